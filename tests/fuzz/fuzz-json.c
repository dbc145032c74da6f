/* fuzz-json.c: tether-json alone, the scanner under profiles and control
 * requests
 *
 * Beyond not crashing: every value it builds knows where it was written,
 * the depth limit holds exactly, and what tether_json_to_string writes
 * back out of a document parses to the same document.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <math.h>

#include "fuzz-common.h"
#include "tether-json.h"

/* A control request's limit: small enough for the fuzzer to cross often. */
#define SHALLOW_DEPTH 8

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  fuzz_init ();
  return 0;
}

typedef struct
{
  TetherJsonDocument *doc;
  guint n_lines;       /* in the input */
  gboolean finite;     /* no number beyond a double's range */
} Walk;

static void
check_position (Walk     *walk,
                JsonNode *node,
                gboolean  is_member)
{
  guint line = 0, column = 0;

  g_assert_true (tether_json_document_get_position (walk->doc, node, &line, &column));
  g_assert_cmpuint (line, >=, 1);
  g_assert_cmpuint (line, <=, walk->n_lines);
  g_assert_cmpuint (column, >=, 1);

  line = column = 0;
  g_assert_true (tether_json_document_get_key_position (walk->doc, node, &line, &column) == is_member);
  if (is_member)
    {
      g_assert_cmpuint (line, >=, 1);
      g_assert_cmpuint (line, <=, walk->n_lines);
      g_assert_cmpuint (column, >=, 1);
    }
}

/* Returns how many containers enclose one another at node (0 for a
 * scalar). Recursion is bounded by TETHER_JSON_MAX_DEPTH. */
static guint
walk_node (Walk     *walk,
           JsonNode *node,
           gboolean  is_member)
{
  guint deepest = 0;

  check_position (walk, node, is_member);

  switch (JSON_NODE_TYPE (node))
    {
    case JSON_NODE_OBJECT:
      {
        JsonObject *object = json_node_get_object (node);
        g_autoptr(GList) members = json_object_get_members (object);

        for (GList *l = members; l != NULL; l = l->next)
          {
            JsonNode *member = json_object_get_member (object, l->data);
            guint depth;

            g_assert_true (g_utf8_validate (l->data, -1, NULL));
            g_assert_true (json_node_get_parent (member) == node);
            depth = walk_node (walk, member, TRUE);
            deepest = MAX (deepest, depth);
          }
        return deepest + 1;
      }

    case JSON_NODE_ARRAY:
      {
        JsonArray *array = json_node_get_array (node);

        for (guint i = 0; i < json_array_get_length (array); i++)
          {
            JsonNode *element = json_array_get_element (array, i);
            guint depth;

            g_assert_true (json_node_get_parent (element) == node);
            depth = walk_node (walk, element, FALSE);
            deepest = MAX (deepest, depth);
          }
        return deepest + 1;
      }

    case JSON_NODE_VALUE:
      if (json_node_get_value_type (node) == G_TYPE_DOUBLE)
        {
          if (!isfinite (json_node_get_double (node)))
            walk->finite = FALSE;
        }
      else if (json_node_get_value_type (node) == G_TYPE_STRING)
        g_assert_true (g_utf8_validate (json_node_get_string (node), -1, NULL));
      else
        g_assert_true (json_node_get_value_type (node) == G_TYPE_INT64 ||
                       json_node_get_value_type (node) == G_TYPE_BOOLEAN);
      return 0;

    case JSON_NODE_NULL:
    default:
      return 0;
    }
}

/* "LINE:COLUMN: ", pointing inside the input. */
static void
check_error (const GError *error,
             guint         n_lines)
{
  guint64 line;
  char *end;

  g_assert_nonnull (error);
  g_assert_true (error->domain == TETHER_JSON_ERROR);
  g_assert_true (g_utf8_validate (error->message, -1, NULL));
  line = g_ascii_strtoull (error->message, &end, 10);
  g_assert_cmpuint (line, >=, 1);
  g_assert_cmpuint (line, <=, n_lines);
  g_assert_cmpint (*end, ==, ':');
  g_assert_true (g_ascii_isdigit (end[1]));
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  const char *text = (const char *) data;
  g_autoptr(TetherJsonDocument) doc = NULL;
  g_autoptr(TetherJsonDocument) shallow = NULL;
  g_autoptr(TetherJsonDocument) again = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) shallow_error = NULL;
  g_autofree char *written = NULL;
  Walk walk = { NULL, 1, TRUE };
  guint depth;

  for (size_t i = 0; i < size; i++)
    walk.n_lines += text[i] == '\n';

  doc = tether_json_parse (text, (gssize) size, TETHER_JSON_MAX_DEPTH, &error);
  if (doc == NULL)
    {
      check_error (error, walk.n_lines);
      return 0;
    }
  g_assert_no_error (error);

  walk.doc = doc;
  depth = walk_node (&walk, tether_json_document_get_root (doc), FALSE);
  g_assert_cmpuint (depth, <=, TETHER_JSON_MAX_DEPTH);

  /* The limit refuses exactly what is deeper, and says so. */
  shallow = tether_json_parse (text, (gssize) size, SHALLOW_DEPTH, &shallow_error);
  if (depth <= SHALLOW_DEPTH)
    {
      g_assert_no_error (shallow_error);
      g_assert_nonnull (shallow);
    }
  else
    {
      g_assert_null (shallow);
      g_assert_error (shallow_error, TETHER_JSON_ERROR, TETHER_JSON_ERROR_DEPTH);
      check_error (shallow_error, walk.n_lines);
    }

  /* json-glib writes an overflowed number as "inf", which is not JSON. */
  if (!walk.finite)
    return 0;
  written = tether_json_to_string (tether_json_document_get_root (doc), size % 2 == 1);
  again = tether_json_parse (written, -1, TETHER_JSON_MAX_DEPTH, &error);
  g_assert_no_error (error);
  g_assert_true (json_node_equal (tether_json_document_get_root (doc),
                                  tether_json_document_get_root (again)));

  return 0;
}
