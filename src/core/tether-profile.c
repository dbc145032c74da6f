/* tether-profile.c: a backend profile (JSON) parsed into a validated struct
 *
 * tether-json checks the syntax, builds the tree and says where each value
 * was written; this file knows the fields. Each one is declared once, in
 * profile_fields[]: its dotted path, kind, place in TetherProfile, range
 * and default. Generic code walks that table to set defaults, read values,
 * refuse unknown names (suggesting the nearest known one), free the
 * profile and list the paths for documentation. What a table cannot say,
 * a bound between two fields, is the check of their section.
 *
 * Errors read "FILE:LINE:COLUMN: message naming the dotted field"; a
 * column counts characters (see tether-json.h).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "tether-profile.h"
#include "tether-enums.h"
#include "tether-error.h"
#include "tether-json.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tether-win32-compat.h"

#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>

/* Deeper than any valid profile; a hostile file is refused early. */
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
 * Reporting: where in the file, and what the user wrote
 * ------------------------------------------------------------------------ */

/* One step of a path into the document: a member or an array element. */
typedef struct
{
  const char *key;  /* NULL for an array element */
  guint index;
} PathElement;

typedef struct
{
  TetherJsonDocument *doc;
  const char *display_name;
  PathElement path[MAX_PATH];
  guint depth;
  GError **error;
} ParseContext;

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
           JsonNode     *node,
           gboolean      at_key,
           const char   *format,
           va_list       args)
{
  g_autofree char *message = g_strdup_vprintf (format, args);
  guint line = 1;
  guint column = 1;

  if (at_key)
    tether_json_document_get_key_position (ctx->doc, node, &line, &column);
  else
    tether_json_document_get_position (ctx->doc, node, &line, &column);

  g_set_error (ctx->error, TETHER_ERROR, TETHER_ERROR_PROFILE,
               "%s:%u:%u: %s", ctx->display_name, line, column, message);
  return FALSE;
}

static gboolean ctx_fail_value (ParseContext *ctx,
                                JsonNode     *node,
                                const char   *format,
                                ...) G_GNUC_PRINTF (3, 4);
static gboolean ctx_fail_key (ParseContext *ctx,
                              JsonNode     *member_value,
                              const char   *format,
                              ...) G_GNUC_PRINTF (3, 4);

/* Reports a problem with the value node; returns FALSE. */
static gboolean
ctx_fail_value (ParseContext *ctx,
                JsonNode     *node,
                const char   *format,
                ...)
{
  va_list args;

  va_start (args, format);
  ctx_failv (ctx, node, FALSE, format, args);
  va_end (args);

  return FALSE;
}

/* Reports a problem with the name of the member whose value is
 * member_value; returns FALSE. */
static gboolean
ctx_fail_key (ParseContext *ctx,
              JsonNode     *member_value,
              const char   *format,
              ...)
{
  va_list args;

  va_start (args, format);
  ctx_failv (ctx, member_value, TRUE, format, args);
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

/* ------------------------------------------------------------------------
 * Values
 * ------------------------------------------------------------------------ */

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
  return ctx_fail_value (ctx, node, _("\"%s\" must be a number between %s and %s (got %s)"),
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
  return ctx_fail_value (ctx, node, _("\"%s\" must be an integer between %u and %u (got %s)"),
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
        return ctx_fail_value (ctx, node, _("\"%s\" must be a string or null (got %s)"), field, got);
      return ctx_fail_value (ctx, node, _("\"%s\" must be a string (got %s)"), field, got);
    }

  if ((flags & STRING_NON_EMPTY) && *json_node_get_string (node) == '\0')
    return ctx_fail_value (ctx, node, _("\"%s\" must not be empty"), field);

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

      return ctx_fail_value (ctx, node, _("\"%s\" must be a non-empty array of strings (got %s)"),
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

          ok = ctx_fail_value (ctx, element, _("\"%s\" must be a string (got %s)"), field, got);
        }
      else if (i == 0 && *json_node_get_string (element) == '\0')
        {
          g_autofree char *field = ctx_field_name (ctx);

          ok = ctx_fail_value (ctx, element, _("\"%s\" must name the program to run, not be empty"), field);
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

/* A non-empty array of numbers between min and max. */
static gboolean
read_delays (ParseContext  *ctx,
             JsonNode      *node,
             double         min,
             double         max,
             double       **out,
             guint         *n_out)
{
  g_autofree double *delays = NULL;
  JsonArray *array;
  guint length;

  if (!JSON_NODE_HOLDS_ARRAY (node) ||
      json_array_get_length (json_node_get_array (node)) == 0)
    {
      g_autofree char *field = ctx_field_name (ctx);
      g_autofree char *got = describe_node (node);

      return ctx_fail_value (ctx, node, _("\"%s\" must be a non-empty array of delays in seconds, such as [1, 2, 5, 10] (got %s)"),
                             field, got);
    }

  array = json_node_get_array (node);
  length = json_array_get_length (array);
  delays = g_new (double, length);

  for (guint i = 0; i < length; i++)
    {
      gboolean ok;

      ctx_push_index (ctx, i);
      ok = read_number (ctx, json_array_get_element (array, i), min, max, &delays[i]);
      ctx_pop (ctx);

      if (!ok)
        return FALSE;
    }

  g_free (*out);
  *out = g_steal_pointer (&delays);
  *n_out = length;
  return TRUE;
}

typedef struct
{
  const char *name;
  int value;
} Choice;

/* The nick of a value of enum_type that is at least min; expected spells
 * the accepted nicks out for the message. */
static gboolean
read_choice (ParseContext *ctx,
             JsonNode     *node,
             GType         enum_type,
             int           min,
             const char   *expected,
             int          *out)
{
  g_autofree char *field = NULL;
  g_autofree char *got = NULL;
  int value;

  if (node_holds (node, G_TYPE_STRING) &&
      tether_enum_from_nick (enum_type, json_node_get_string (node), &value) &&
      value >= min)
    {
      *out = value;
      return TRUE;
    }

  field = ctx_field_name (ctx);
  got = describe_node (node);
  return ctx_fail_value (ctx, node, _("\"%s\" must be %s (got %s)"), field, expected, got);
}

/* A name from names, with or without "SIG", or a number between min and
 * max. */
static gboolean
read_signal (ParseContext *ctx,
             JsonNode     *node,
             const Choice *names,
             guint         min,
             guint         max,
             int          *out)
{
  g_autofree char *field = NULL;
  g_autofree char *got = NULL;

  if (node_holds (node, G_TYPE_STRING))
    {
      const char *name = json_node_get_string (node);

      if (g_str_has_prefix (name, "SIG"))
        name += strlen ("SIG");

      for (const Choice *signal = names; signal->name != NULL; signal++)
        {
          if (strcmp (name, signal->name) == 0)
            {
              *out = signal->value;
              return TRUE;
            }
        }
    }
  else if (node_holds (node, G_TYPE_INT64))
    {
      gint64 number = json_node_get_int (node);

      if (number >= min && number <= max)
        {
          *out = (int) number;
          return TRUE;
        }
    }

  field = ctx_field_name (ctx);
  got = describe_node (node);
  return ctx_fail_value (ctx, node, _("\"%s\" must be \"SIGTERM\", \"SIGINT\", \"SIGQUIT\", \"SIGHUP\", \"SIGUSR1\", \"SIGUSR2\" or a signal number between %u and %u (got %s)"),
                         field, min, max, got);
}

/* What execve accepts as a variable name. */
static gboolean
is_valid_env_name (const char *name)
{
  return *name != '\0' && strchr (name, '=') == NULL;
}

static gboolean
read_env_name (ParseContext  *ctx,
               JsonNode      *node,
               char         **out)
{
  g_autofree char *field = NULL;
  g_autofree char *got = NULL;

  if (!read_string (ctx, node, STRING_NON_EMPTY, out))
    return FALSE;
  if (is_valid_env_name (*out))
    return TRUE;

  field = ctx_field_name (ctx);
  got = quote_string (*out);
  return ctx_fail_value (ctx, node, _("\"%s\" must be an environment variable name without \"=\" (got %s)"),
                         field, got);
}

/* An object of strings, added to the environment as "NAME=VALUE". */
static gboolean
read_env (ParseContext   *ctx,
          JsonNode       *node,
          char         ***out)
{
  g_autoptr(GPtrArray) env = NULL;
  g_autoptr(GList) members = NULL;
  JsonObject *object;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      g_autofree char *field = ctx_field_name (ctx);
      g_autofree char *got = describe_node (node);

      return ctx_fail_value (ctx, node, _("\"%s\" must be an object of strings, such as {\"PYTHONUNBUFFERED\": \"1\"} (got %s)"),
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

          ok = ctx_fail_key (ctx, value, _("\"%s\": a variable name must be non-empty and contain no \"=\" (got %s)"),
                             parent, got);
        }
      else if (!node_holds (value, G_TYPE_STRING))
        {
          g_autofree char *field = ctx_field_name (ctx);
          g_autofree char *got = describe_node (value);

          ok = ctx_fail_value (ctx, value, _("\"%s\" must be a string (got %s); quote numbers, such as \"1\""),
                               field, got);
        }
      ctx_pop (ctx);

      if (!ok)
        return FALSE;
      g_ptr_array_add (env, g_strconcat (name, "=", json_node_get_string (value), NULL));
    }

  g_ptr_array_add (env, NULL);
  g_strfreev (*out);
  *out = (char **) g_ptr_array_free (g_steal_pointer (&env), FALSE);
  return TRUE;
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
  return ctx_fail_value (ctx, node, _("\"%s\" must be an http:// or https:// URL or null (got %s)"),
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
read_listen_address (ParseContext  *ctx,
                     JsonNode      *node,
                     char         **out)
{
  g_autofree char *field = NULL;
  g_autofree char *got = NULL;

  if (!read_string (ctx, node, STRING_NULLABLE, out))
    return FALSE;
  if (*out == NULL || is_host_and_port (*out))
    return TRUE;
  /* A unix socket's path: sockaddr_un has room for 107 bytes and a NUL. */
  if (g_path_is_absolute (*out) && strlen (*out) < 108)
    return TRUE;

  field = ctx_field_name (ctx);
  got = quote_string (*out);
  return ctx_fail_value (ctx, node, _("\"%s\" must be \"HOST:PORT\" with a port between 1 and 65535, "
                                      "an absolute path of a unix socket (at most 107 bytes), or null (got %s)"),
                         field, got);
}

static gboolean
read_regex (ParseContext  *ctx,
            JsonNode      *node,
            char         **out)
{
  g_autoptr(GRegex) regex = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *field = NULL;

  if (!read_string (ctx, node, STRING_NULLABLE, out))
    return FALSE;
  if (*out == NULL)
    return TRUE;
  regex = g_regex_new (*out, G_REGEX_OPTIMIZE, 0, &local_error);
  if (regex != NULL)
    return TRUE;

  field = ctx_field_name (ctx);
  return ctx_fail_value (ctx, node, _("\"%s\" is not a valid regular expression: %s"),
                         field, local_error->message);
}

/* ------------------------------------------------------------------------
 * The fields
 * ------------------------------------------------------------------------ */

typedef enum
{
  FIELD_SECTION,    /* an object of the fields under its path */
  FIELD_STRING,     /* char *: a non-empty string */
  FIELD_ARGV,       /* char **: a non-empty array of strings */
  FIELD_ENV,        /* char **: an object of strings, stored as "NAME=VALUE"; never NULL */
  FIELD_ENV_NAME,   /* char *: an environment variable name */
  FIELD_HTTP_URL,   /* char *: an http:// or https:// URL, or null */
  FIELD_LISTEN,     /* char *: "HOST:PORT" or an absolute unix socket path, or null */
  FIELD_REGEX,      /* char *: a regular expression (GRegex), or null */
  FIELD_NUMBER,     /* double: between min and max */
  FIELD_UINT,       /* guint: an integer between min and max */
  FIELD_DELAYS,     /* double *, its length at count_offset: each between min and max */
  FIELD_CHOICE,     /* int: the nick of a value of enum_type, not below min */
  FIELD_SIGNAL,     /* int: a name among choices, or a number between min and max */
} FieldKind;

/* Rules between the fields of a section, checked once they are read. */
typedef gboolean (*SectionCheck) (ParseContext  *ctx,
                                  JsonNode      *section,
                                  TetherProfile *self);

typedef struct
{
  const char *path;
  FieldKind kind;
  gsize offset;                  /* of the value in TetherProfile */
  double min;
  double max;
  const Choice *choices;         /* FIELD_SIGNAL: ends with a NULL name */
  GType (*enum_type) (void);     /* FIELD_CHOICE: the registered enum's get_type */
  const char *expected;          /* FIELD_CHOICE: the nicks as a message spells them */

  double default_value;          /* FIELD_NUMBER, FIELD_UINT, FIELD_CHOICE, FIELD_SIGNAL */
  const char *default_string;    /* the char * kinds; NULL: absent */
  const double *default_delays;  /* FIELD_DELAYS, default_count of them */
  guint default_count;
  gsize count_offset;            /* FIELD_DELAYS: of the guint length */

  SectionCheck check;            /* FIELD_SECTION */
} Field;

/* The choice kinds store an enum through an int. */
G_STATIC_ASSERT (sizeof (TetherReadyMode) == sizeof (int));
G_STATIC_ASSERT (sizeof (TetherRestartPolicy) == sizeof (int));
G_STATIC_ASSERT (sizeof (TetherPoolMode) == sizeof (int));
G_STATIC_ASSERT (sizeof (TetherRollbackMethod) == sizeof (int));

static gboolean check_profile     (ParseContext  *ctx,
                                   JsonNode      *section,
                                   TetherProfile *self);
static gboolean check_pool        (ParseContext  *ctx,
                                   JsonNode      *section,
                                   TetherProfile *self);
static gboolean check_pool_limits (ParseContext  *ctx,
                                   JsonNode      *section,
                                   TetherProfile *self);
static gboolean check_rollback    (ParseContext  *ctx,
                                   JsonNode      *section,
                                   TetherProfile *self);

static const Choice signal_names[] = {
  { "TERM", SIGTERM },
  { "INT", SIGINT },
  { "QUIT", SIGQUIT },
  { "HUP", SIGHUP },
  { "USR1", SIGUSR1 },
  { "USR2", SIGUSR2 },
  { NULL, 0 }
};

static const double default_backoff[] = { 1, 2, 5, 10 };

#define OFFSET(member) G_STRUCT_OFFSET (TetherProfile, member)

/* A section comes before its fields. Within a section, the order is the
 * one "did you mean" prefers between two equally near names. */
static const Field profile_fields[] = {
  /* Absent: the file's name, or command[0] */
  { "name", FIELD_STRING, OFFSET (name) },
  /* Required (check_profile) */
  { "command", FIELD_ARGV, OFFSET (command) },
  /* Absent or relative: from the profile's directory */
  { "cwd", FIELD_STRING, OFFSET (cwd) },
  /* Relative: from cwd */
  { "pidfile", FIELD_STRING, OFFSET (pidfile) },
  { "env", FIELD_ENV, OFFSET (env) },
  { "ready", FIELD_CHOICE, OFFSET (ready), .enum_type = tether_ready_mode_get_type,
    .expected = N_("\"spawn\" or \"notify\""), .default_value = TETHER_READY_SPAWN },
  { "start_timeout", FIELD_NUMBER, OFFSET (start_timeout), 0.1, 86400, .default_value = 30 },

  { "stop", FIELD_SECTION },
  { "stop.graceful_timeout", FIELD_NUMBER, OFFSET (stop.graceful_timeout), 0, 3600, .default_value = 10 },
  { "stop.term_timeout", FIELD_NUMBER, OFFSET (stop.term_timeout), 0, 3600, .default_value = 5 },
  { "stop.kill_timeout", FIELD_NUMBER, OFFSET (stop.kill_timeout), 0.1, 3600, .default_value = 10 },
  { "stop.signal", FIELD_SIGNAL, OFFSET (stop.signal), 1, 64, .choices = signal_names,
    .default_value = SIGTERM },

  { "restart", FIELD_SECTION },
  { "restart.policy", FIELD_CHOICE, OFFSET (restart.policy),
    .enum_type = tether_restart_policy_get_type,
    .expected = N_("\"no\", \"on-failure\" or \"always\""), .default_value = TETHER_RESTART_NO },
  { "restart.max_restarts", FIELD_UINT, OFFSET (restart.max_restarts), 0, 1000, .default_value = 5 },
  /* 0: never */
  { "restart.on_unresponsive", FIELD_NUMBER, OFFSET (restart.on_unresponsive), 0, 86400, .default_value = 0 },
  { "restart.backoff", FIELD_DELAYS, OFFSET (restart.backoff), 0, 3600,
    .count_offset = OFFSET (restart.n_backoff),
    .default_delays = default_backoff, .default_count = G_N_ELEMENTS (default_backoff) },

  { "health", FIELD_SECTION },
  { "health.http", FIELD_HTTP_URL, OFFSET (health.http) },
  { "health.interval", FIELD_NUMBER, OFFSET (health.interval), 0.1, 3600, .default_value = 5 },
  { "health.timeout", FIELD_NUMBER, OFFSET (health.timeout), 0.1, 3600, .default_value = 3 },
  { "health.failures", FIELD_UINT, OFFSET (health.failures), 1, 100, .default_value = 3 },
  /* 0: no watchdog */
  { "health.watchdog", FIELD_NUMBER, OFFSET (health.watchdog), 0, 3600, .default_value = 0 },

  { "pool", FIELD_SECTION, .check = check_pool },
  /* "none" is what an absent mode means, not a value to write: min refuses it */
  { "pool.mode", FIELD_CHOICE, OFFSET (pool.mode), .min = TETHER_POOL_MANAGED,
    .enum_type = tether_pool_mode_get_type,
    .expected = N_("\"managed\" or \"signals\""), .default_value = TETHER_POOL_NONE },
  { "pool.listen", FIELD_LISTEN, OFFSET (pool.listen) },
  { "pool.workers", FIELD_UINT, OFFSET (pool.workers), 0, 1024, .default_value = 4 },
  { "pool.min", FIELD_UINT, OFFSET (pool.min), 0, 1024, .default_value = 1 },
  { "pool.max", FIELD_UINT, OFFSET (pool.max), 0, 1024, .default_value = 16 },
  { "pool.worker_command", FIELD_ARGV, OFFSET (pool.worker_command) },
  /* signals mode: which of the master's children are workers */
  { "pool.worker_match", FIELD_REGEX, OFFSET (pool.worker_match) },
  { "pool.resize_timeout", FIELD_NUMBER, OFFSET (pool.resize_timeout), 0.1, 3600, .default_value = 10 },

  /* 0: no limit */
  { "pool.limits", FIELD_SECTION, .check = check_pool_limits },
  { "pool.limits.memory_soft_mb", FIELD_UINT, OFFSET (pool.limits.memory_soft_mb), 0, G_MAXUINT32 },
  { "pool.limits.memory_hard_mb", FIELD_UINT, OFFSET (pool.limits.memory_hard_mb), 0, G_MAXUINT32 },
  { "pool.limits.cpu_seconds", FIELD_NUMBER, OFFSET (pool.limits.cpu_seconds), 0, G_MAXUINT32 },
  { "pool.limits.requests", FIELD_UINT, OFFSET (pool.limits.requests), 0, G_MAXUINT32 },
  { "pool.limits.heartbeat_timeout", FIELD_NUMBER, OFFSET (pool.limits.heartbeat_timeout), 0, 3600,
    .default_value = 30 },

  { "log", FIELD_SECTION },
  { "log.max_size_mb", FIELD_UINT, OFFSET (log.max_size_mb), 1, 10240, .default_value = 10 },
  { "log.keep", FIELD_UINT, OFFSET (log.keep), 0, 100, .default_value = 3 },
  { "log.lines", FIELD_UINT, OFFSET (log.lines), 100, 1000000, .default_value = 10000 },

  { "rollback", FIELD_SECTION, .check = check_rollback },
  { "rollback.method", FIELD_CHOICE, OFFSET (rollback.method),
    .enum_type = tether_rollback_method_get_type,
    .expected = N_("\"restart\" or \"http\""), .default_value = TETHER_ROLLBACK_RESTART },
  { "rollback.env", FIELD_ENV_NAME, OFFSET (rollback.env), .default_string = "TETHER_CHECKPOINT" },
  /* Required for method http (check_rollback) */
  { "rollback.url", FIELD_HTTP_URL, OFFSET (rollback.url) },
  { "rollback.stop", FIELD_CHOICE, OFFSET (rollback.stop),
    .enum_type = tether_rollback_stop_get_type,
    .expected = N_("\"graceful\" or \"kill\""), .default_value = TETHER_ROLLBACK_STOP_GRACEFUL },
  { "rollback.resume", FIELD_CHOICE, OFFSET (rollback.resume),
    .enum_type = tether_rollback_resume_get_type,
    .expected = N_("\"none\" or \"last-checkpoint\""), .default_value = TETHER_ROLLBACK_RESUME_NONE },
  { "rollback.timeout", FIELD_NUMBER, OFFSET (rollback.timeout), 0.1, 3600, .default_value = 10 },
};

/* The profile itself: the section of the paths without a dot. */
static const Field profile_root = { "", FIELD_SECTION, .check = check_profile };

#undef OFFSET

/* The name of field within the section at section_path, or NULL if the
 * field is not directly in it. */
static const char *
field_name_in (const Field *field,
               const char  *section_path)
{
  const char *name = field->path;
  gsize length = strlen (section_path);

  if (length > 0)
    {
      if (strncmp (name, section_path, length) != 0 || name[length] != '.')
        return NULL;
      name += length + 1;
    }

  return strchr (name, '.') == NULL ? name : NULL;
}

static const Field *
find_field (const Field *section,
            const char  *name)
{
  for (guint i = 0; i < G_N_ELEMENTS (profile_fields); i++)
    {
      const char *candidate = field_name_in (&profile_fields[i], section->path);

      if (candidate != NULL && strcmp (candidate, name) == 0)
        return &profile_fields[i];
    }

  return NULL;
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
fail_unknown_field (ParseContext *ctx,
                    const Field  *section,
                    const char   *name,
                    JsonNode     *value)
{
  g_autofree char *parent = ctx_field_name_n (ctx, ctx->depth - 1);
  g_autofree char *message = NULL;
  const char *suggestion = NULL;
  guint best = 3;  /* suggest only near misses: a typo, not a different word */

  for (guint i = 0; i < G_N_ELEMENTS (profile_fields); i++)
    {
      const char *known = field_name_in (&profile_fields[i], section->path);
      guint distance;

      if (known == NULL)
        continue;

      distance = edit_distance (name, known);
      if (distance < best && distance < strlen (known))
        {
          best = distance;
          suggestion = known;
        }
    }

  if (*parent == '\0')
    message = g_strdup_printf (_("unknown field \"%s\""), name);
  else
    message = g_strdup_printf (_("unknown field \"%s\" in \"%s\""), name, parent);

  if (suggestion != NULL)
    return ctx_fail_key (ctx, value, _("%s; did you mean \"%s\"?"), message, suggestion);
  return ctx_fail_key (ctx, value, "%s", message);
}

static gboolean read_field (ParseContext  *ctx,
                            const Field   *field,
                            JsonNode      *node,
                            TetherProfile *self);

static gboolean
read_section (ParseContext  *ctx,
              const Field   *section,
              JsonNode      *node,
              TetherProfile *self)
{
  g_autoptr(GList) members = NULL;
  JsonObject *object;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      g_autofree char *field = ctx_field_name (ctx);
      g_autofree char *got = describe_node (node);

      if (ctx->depth == 0)
        return ctx_fail_value (ctx, node, _("the profile must be a JSON object such as {\"command\": [\"./server\"]} (got %s)"),
                               got);
      return ctx_fail_value (ctx, node, _("\"%s\" must be an object (got %s)"), field, got);
    }

  object = json_node_get_object (node);
  members = json_object_get_members (object);

  for (const GList *l = members; l != NULL; l = l->next)
    {
      const char *name = l->data;
      JsonNode *value = json_object_get_member (object, name);
      const Field *field = find_field (section, name);
      gboolean ok;

      ctx_push_key (ctx, name);
      if (field != NULL)
        ok = read_field (ctx, field, value, self);
      else
        ok = fail_unknown_field (ctx, section, name, value);
      ctx_pop (ctx);

      if (!ok)
        return FALSE;
    }

  return section->check == NULL || section->check (ctx, node, self);
}

static gboolean
read_field (ParseContext  *ctx,
            const Field   *field,
            JsonNode      *node,
            TetherProfile *self)
{
  gpointer slot = G_STRUCT_MEMBER_P (self, field->offset);

  switch (field->kind)
    {
    case FIELD_SECTION:
      return read_section (ctx, field, node, self);
    case FIELD_STRING:
      return read_string (ctx, node, STRING_NON_EMPTY, slot);
    case FIELD_ARGV:
      return read_argv (ctx, node, slot);
    case FIELD_ENV:
      return read_env (ctx, node, slot);
    case FIELD_ENV_NAME:
      return read_env_name (ctx, node, slot);
    case FIELD_HTTP_URL:
      return read_http_url (ctx, node, slot);
    case FIELD_LISTEN:
      return read_listen_address (ctx, node, slot);
    case FIELD_REGEX:
      return read_regex (ctx, node, slot);
    case FIELD_NUMBER:
      return read_number (ctx, node, field->min, field->max, slot);
    case FIELD_UINT:
      return read_uint (ctx, node, (guint) field->min, (guint) field->max, slot);
    case FIELD_DELAYS:
      return read_delays (ctx, node, field->min, field->max, slot,
                          G_STRUCT_MEMBER_P (self, field->count_offset));
    case FIELD_CHOICE:
      return read_choice (ctx, node, field->enum_type (), (int) field->min,
                          _(field->expected), slot);
    case FIELD_SIGNAL:
      return read_signal (ctx, node, field->choices, (guint) field->min, (guint) field->max, slot);
    default:
      g_return_val_if_reached (FALSE);
    }
}

static void
set_defaults (TetherProfile *self)
{
  for (guint i = 0; i < G_N_ELEMENTS (profile_fields); i++)
    {
      const Field *field = &profile_fields[i];
      gpointer slot = G_STRUCT_MEMBER_P (self, field->offset);

      switch (field->kind)
        {
        case FIELD_STRING:
        case FIELD_ENV_NAME:
        case FIELD_HTTP_URL:
        case FIELD_LISTEN:
        case FIELD_REGEX:
          *(char **) slot = g_strdup (field->default_string);
          break;
        case FIELD_ENV:
          *(char ***) slot = g_new0 (char *, 1);
          break;
        case FIELD_NUMBER:
          *(double *) slot = field->default_value;
          break;
        case FIELD_UINT:
          *(guint *) slot = (guint) field->default_value;
          break;
        case FIELD_CHOICE:
        case FIELD_SIGNAL:
          *(int *) slot = (int) field->default_value;
          break;
        case FIELD_DELAYS:
          *(double **) slot = g_memdup2 (field->default_delays, field->default_count * sizeof (double));
          G_STRUCT_MEMBER (guint, self, field->count_offset) = field->default_count;
          break;
        case FIELD_ARGV:
        case FIELD_SECTION:
        default:
          break;
        }
    }
}

static void
free_fields (TetherProfile *self)
{
  for (guint i = 0; i < G_N_ELEMENTS (profile_fields); i++)
    {
      const Field *field = &profile_fields[i];
      gpointer slot = G_STRUCT_MEMBER_P (self, field->offset);

      switch (field->kind)
        {
        case FIELD_STRING:
        case FIELD_ENV_NAME:
        case FIELD_HTTP_URL:
        case FIELD_LISTEN:
        case FIELD_REGEX:
          g_free (*(char **) slot);
          break;
        case FIELD_ARGV:
        case FIELD_ENV:
          g_strfreev (*(char ***) slot);
          break;
        case FIELD_DELAYS:
          g_free (*(double **) slot);
          break;
        case FIELD_NUMBER:
        case FIELD_UINT:
        case FIELD_CHOICE:
        case FIELD_SIGNAL:
        case FIELD_SECTION:
        default:
          break;
        }
    }
}

const char * const *
tether_profile_get_field_paths (void)
{
  static const char **paths = NULL;

  if (g_once_init_enter (&paths))
    {
      const char **list = g_new (const char *, G_N_ELEMENTS (profile_fields) + 1);

      for (guint i = 0; i < G_N_ELEMENTS (profile_fields); i++)
        list[i] = profile_fields[i].path;
      list[G_N_ELEMENTS (profile_fields)] = NULL;

      g_once_init_leave (&paths, list);
    }

  return paths;
}

/* ------------------------------------------------------------------------
 * Rules between fields
 * ------------------------------------------------------------------------ */

#ifdef G_OS_WIN32
/* What the Windows build cannot do (tether-unsupported-win32.c says why):
 * refused when the profile is read, not when the backend starts. */
static gboolean
check_platform (ParseContext  *ctx,
                JsonNode      *section,
                TetherProfile *self)
{
  JsonObject *object = json_node_get_object (section);
  const char *field = NULL;
  const char *why = NULL;

  if (self->pool.mode != TETHER_POOL_NONE)
    field = "pool", why = _("a worker pool passes sockets to its workers");
  else if (self->health.http != NULL)
    field = "health", why = _("there are no HTTP health probes");
  else if (self->health.watchdog > 0)
    field = "health", why = _("there is no notify socket for a watchdog");
  else if (self->rollback.method == TETHER_ROLLBACK_HTTP)
    field = "rollback", why = _("there is no HTTP rollback");
  else if (self->pidfile != NULL)
    field = "pidfile", why = _("there are no pid files to follow");
  if (field == NULL)
    return TRUE;
  return ctx_fail_value (ctx, json_object_has_member (object, field)
                              ? json_object_get_member (object, field) : section,
                         _("\"%s\" is not supported on Windows: %s"), field, why);
}
#endif

static gboolean
check_profile (ParseContext  *ctx,
               JsonNode      *section,
               TetherProfile *self)
{
#ifdef G_OS_WIN32
  if (!check_platform (ctx, section, self))
    return FALSE;
#endif
  if (self->command != NULL)
    return TRUE;

  return ctx_fail_value (ctx, section, _("missing required field \"command\": the program to run and its arguments, such as [\"python3\", \"server.py\"]"));
}

static gboolean
check_pool (ParseContext  *ctx,
            JsonNode      *section,
            TetherProfile *self)
{
  JsonObject *object = json_node_get_object (section);
  const char *blame;

  if (self->pool.mode == TETHER_POOL_MANAGED && self->pool.listen == NULL)
    return ctx_fail_value (ctx, json_object_get_member (object, "mode"),
                           _("\"pool.listen\" is required when \"pool.mode\" is \"managed\": "
                             "the address the workers share, such as \"127.0.0.1:8080\""));
  if (self->pool.mode != TETHER_POOL_SIGNALS && self->pool.worker_match != NULL)
    return ctx_fail_value (ctx, json_object_get_member (object, "worker_match"),
                           _("\"pool.worker_match\" only applies when \"pool.mode\" is \"signals\""));

  if (self->pool.min <= self->pool.workers && self->pool.workers <= self->pool.max)
    return TRUE;

  /* Point at what the user wrote: workers if given, else the bound that
   * the default number of workers falls outside of, else the section. */
  if (json_object_has_member (object, "workers"))
    blame = "workers";
  else if (self->pool.workers > self->pool.max && json_object_has_member (object, "max"))
    blame = "max";
  else if (self->pool.workers < self->pool.min && json_object_has_member (object, "min"))
    blame = "min";
  else
    blame = NULL;

  return ctx_fail_value (ctx, blame != NULL ? json_object_get_member (object, blame) : section,
                         _("\"pool.workers\" (%u) must be between \"pool.min\" (%u) and \"pool.max\" (%u)"),
                         self->pool.workers, self->pool.min, self->pool.max);
}

static gboolean
check_pool_limits (ParseContext  *ctx,
                   JsonNode      *section,
                   TetherProfile *self)
{
  const TetherPoolLimits *limits = &self->pool.limits;

  /* Either being 0 means no limit. A soft limit of 0 was never written,
   * so a non-zero one stands in the section. */
  if (limits->memory_soft_mb == 0 || limits->memory_hard_mb == 0 ||
      limits->memory_soft_mb <= limits->memory_hard_mb)
    return TRUE;

  return ctx_fail_value (ctx, json_object_get_member (json_node_get_object (section), "memory_soft_mb"),
                         _("\"pool.limits.memory_soft_mb\" (%u) must not exceed \"pool.limits.memory_hard_mb\" (%u)"),
                         limits->memory_soft_mb, limits->memory_hard_mb);
}

static gboolean
check_rollback (ParseContext  *ctx,
                JsonNode      *section,
                TetherProfile *self)
{
  if (self->rollback.method != TETHER_ROLLBACK_HTTP || self->rollback.url != NULL)
    return TRUE;

  /* Only a written "method" can be "http". */
  return ctx_fail_value (ctx, json_object_get_member (json_node_get_object (section), "method"),
                         _("\"rollback.url\" is required when \"rollback.method\" is \"http\""));
}

/* ------------------------------------------------------------------------
 * Loading
 * ------------------------------------------------------------------------ */

static TetherProfile *
tether_profile_new (const char *display_name)
{
  TetherProfileReal *real = g_new0 (TetherProfileReal, 1);
  TetherProfile *self = &real->profile;

  g_atomic_ref_count_init (&self->ref_count);
  real->display_name = g_strdup (display_name);
  set_defaults (self);

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


/* tether-json's words after the file name; an empty file and one in
 * another encoding are told what a profile should be. */
static void
set_syntax_error (const char    *display_name,
                  const char    *data,
                  gsize          length,
                  const GError  *json_error,
                  GError       **error)
{
  if (g_error_matches (json_error, TETHER_JSON_ERROR, TETHER_JSON_ERROR_EMPTY))
    {
      guint line;
      guint column;

      tether_json_get_position_at (data, length, &line, &column);
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_PROFILE, "%s:%u:%u: %s",
                   display_name, line, column,
                   _("the profile is empty: expected a JSON object such as {\"command\": [\"./server\"]}"));
    }
  else if (g_error_matches (json_error, TETHER_JSON_ERROR, TETHER_JSON_ERROR_ENCODING))
    {
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_PROFILE, "%s:%s: %s",
                   display_name, json_error->message, _("save the profile as UTF-8 text"));
    }
  else
    {
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_PROFILE, "%s:%s",
                   display_name, json_error->message);
    }
}

/* Replaces *path by its absolute form, relative paths resolving against
 * base. */
static void
canonicalize_in_place (char       **path,
                       const char  *base)
{
  char *relative = *path;

  *path = g_canonicalize_filename (relative, base);
  g_free (relative);
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
  g_autoptr(TetherProfile) self = NULL;
  g_autoptr(TetherJsonDocument) doc = NULL;
  g_autoptr(GError) json_error = NULL;
  g_autofree char *base = NULL;
  ParseContext ctx = { 0, };
  JsonNode *root;
  JsonArray *command;

  if (display_name == NULL)
    display_name = "<data>";

  doc = tether_json_parse (data, (gssize) length, MAX_NESTING, &json_error);
  if (doc == NULL)
    {
      set_syntax_error (display_name, data, length, json_error, error);
      return NULL;
    }
  root = tether_json_document_get_root (doc);

  ctx.doc = doc;
  ctx.display_name = display_name;
  ctx.error = error;

  self = tether_profile_new (display_name);
  if (!read_section (&ctx, &profile_root, root, self))
    return NULL;

  command = json_object_get_array_member (json_node_get_object (root), "command");
  tether_json_document_get_position (doc, json_array_get_element (command, 0),
                                     &self->command_line, &self->command_column);

  if (base_dir == NULL)
    base = g_get_current_dir ();
  else
    base = g_canonicalize_filename (base_dir, NULL);

  if (self->cwd != NULL)
    canonicalize_in_place (&self->cwd, base);
  else
    self->cwd = g_strdup (base);

  if (self->pidfile != NULL)
    canonicalize_in_place (&self->pidfile, self->cwd);

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
  free_fields (self);
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

#ifdef G_OS_WIN32
/* Windows runs "server" as server.exe: *candidate gets the name that is. */
static gboolean
is_executable_program (char **candidate)
{
  g_autofree char *exe = NULL;

  if (is_executable_file (*candidate))
    return TRUE;
  exe = g_strconcat (*candidate, ".exe", NULL);
  if (!is_executable_file (exe))
    return FALSE;
  g_free (*candidate);
  *candidate = g_steal_pointer (&exe);
  return TRUE;
}
#else
static gboolean
is_executable_program (char **candidate)
{
  return is_executable_file (*candidate);
}
#endif

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

  /* A path (on Windows also C:\dir\prog.exe), not a name to look up. */
  if (strchr (program, '/') != NULL || strchr (program, G_DIR_SEPARATOR) != NULL ||
      g_path_is_absolute (program))
    {
      g_autofree char *candidate = g_canonicalize_filename (program, self->cwd);

      if (is_executable_program (&candidate))
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

      if (is_executable_program (&candidate))
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
