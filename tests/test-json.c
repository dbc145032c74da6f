/* test-json.c: the positioned JSON scanner: values, positions, and every
 * way a document can be wrong
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include <glib.h>

#include "tether-json.h"

static TetherJsonDocument *
parse_ok (const char *json)
{
  g_autoptr(GError) error = NULL;
  TetherJsonDocument *doc = tether_json_parse (json, -1, 64, &error);

  g_assert_no_error (error);
  g_assert_nonnull (doc);
  return doc;
}

static void
assert_parse_error (const char      *json,
                    gssize           length,
                    TetherJsonError  code,
                    const char      *expected)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherJsonDocument) doc = tether_json_parse (json, length, 64, &error);

  g_assert_null (doc);
  g_assert_error (error, TETHER_JSON_ERROR, (int) code);
  g_assert_cmpstr (error->message, ==, expected);
}

typedef gboolean (*PositionGetter) (TetherJsonDocument *doc,
                                    JsonNode           *node,
                                    guint              *line,
                                    guint              *column);

/* get: tether_json_document_get_position (where the value starts) or
 * tether_json_document_get_key_position (where its member name does). */
static void
assert_position (PositionGetter      get,
                 TetherJsonDocument *doc,
                 JsonNode           *node,
                 guint               line,
                 guint               column)
{
  guint l = 0;
  guint c = 0;

  g_assert_nonnull (node);
  g_assert_true (get (doc, node, &l, &c));
  g_assert_cmpuint (l, ==, line);
  g_assert_cmpuint (c, ==, column);
}

/* ------------------------------------------------------------------------ */

static void
test_values (void)
{
  g_autoptr(TetherJsonDocument) doc = parse_ok ("{\"s\": \"text\", \"i\": 42, \"d\": 1.5, \"t\": true, "
                                                "\"f\": false, \"n\": null, \"a\": [1, [], {}], \"o\": {\"x\": 1}}");
  JsonNode *root = tether_json_document_get_root (doc);
  JsonObject *object;
  JsonArray *array;
  g_autoptr(GList) members = NULL;
  const char * const order[] = { "s", "i", "d", "t", "f", "n", "a", "o" };
  guint i = 0;

  g_assert_true (JSON_NODE_HOLDS_OBJECT (root));
  g_assert_null (json_node_get_parent (root));
  object = json_node_get_object (root);

  g_assert_cmpstr (json_object_get_string_member (object, "s"), ==, "text");
  g_assert_cmpint (json_node_get_value_type (json_object_get_member (object, "i")), ==, G_TYPE_INT64);
  g_assert_cmpint (json_object_get_int_member (object, "i"), ==, 42);
  g_assert_cmpint (json_node_get_value_type (json_object_get_member (object, "d")), ==, G_TYPE_DOUBLE);
  g_assert_cmpfloat (json_object_get_double_member (object, "d"), ==, 1.5);
  g_assert_true (json_object_get_boolean_member (object, "t"));
  g_assert_false (json_object_get_boolean_member (object, "f"));
  g_assert_true (json_object_get_null_member (object, "n"));

  array = json_object_get_array_member (object, "a");
  g_assert_cmpuint (json_array_get_length (array), ==, 3);
  g_assert_cmpint (json_array_get_int_element (array, 0), ==, 1);
  g_assert_cmpuint (json_array_get_length (json_array_get_array_element (array, 1)), ==, 0);
  g_assert_cmpuint (json_object_get_size (json_array_get_object_element (array, 2)), ==, 0);
  g_assert_true (json_node_get_parent (json_array_get_element (array, 0)) == json_object_get_member (object, "a"));
  g_assert_true (json_node_get_parent (json_object_get_member (object, "o")) == root);

  /* Members keep the order they were written in */
  members = json_object_get_members (object);
  for (const GList *l = members; l != NULL; l = l->next, i++)
    g_assert_cmpstr (l->data, ==, order[i]);
  g_assert_cmpuint (i, ==, G_N_ELEMENTS (order));
}

static void
test_scalar_roots (void)
{
  g_autoptr(TetherJsonDocument) string = parse_ok ("  \"x\"  ");
  g_autoptr(TetherJsonDocument) number = parse_ok ("\n-3\n");
  g_autoptr(TetherJsonDocument) null = parse_ok ("null");

  g_assert_cmpstr (json_node_get_string (tether_json_document_get_root (string)), ==, "x");
  assert_position (tether_json_document_get_position, string, tether_json_document_get_root (string), 1, 3);
  g_assert_false (tether_json_document_get_key_position (string, tether_json_document_get_root (string), NULL, NULL));
  g_assert_cmpint (json_node_get_int (tether_json_document_get_root (number)), ==, -3);
  assert_position (tether_json_document_get_position, number, tether_json_document_get_root (number), 2, 1);
  g_assert_true (JSON_NODE_HOLDS_NULL (tether_json_document_get_root (null)));
}

static void
test_positions (void)
{
  /* "Ünïcödé" is 7 characters but 11 bytes; "\u00e9\n" is 8 characters of
   * text for 2 decoded ones; a tab is one column; \r is not a line break. */
  const char *json =
    "{\"Ünïcödé\": \"ä\", \"b\": \"\\u00e9\\n\", \"c\":\t[10,\r\n"
    "\t  {\"d\": null}],\n"
    "   \"e\"\n"
    "  :\n"
    "  \"😀\", \"f\": \"\\ud83d\\ude00\", \"g\": 1}";
  g_autoptr(TetherJsonDocument) doc = parse_ok (json);
  JsonNode *root = tether_json_document_get_root (doc);
  JsonObject *object = json_node_get_object (root);
  JsonArray *array = json_object_get_array_member (object, "c");
  JsonNode *inner = json_array_get_element (array, 1);
  g_autoptr(JsonNode) foreign = json_node_new (JSON_NODE_NULL);

  assert_position (tether_json_document_get_position, doc, root, 1, 1);
  g_assert_false (tether_json_document_get_key_position (doc, root, NULL, NULL));

  assert_position (tether_json_document_get_key_position, doc, json_object_get_member (object, "Ünïcödé"), 1, 2);
  assert_position (tether_json_document_get_position, doc, json_object_get_member (object, "Ünïcödé"), 1, 13);
  assert_position (tether_json_document_get_key_position, doc, json_object_get_member (object, "b"), 1, 18);
  assert_position (tether_json_document_get_position, doc, json_object_get_member (object, "b"), 1, 23);
  g_assert_cmpstr (json_object_get_string_member (object, "b"), ==, "é\n");
  assert_position (tether_json_document_get_key_position, doc, json_object_get_member (object, "c"), 1, 35);
  assert_position (tether_json_document_get_position, doc, json_object_get_member (object, "c"), 1, 40);

  assert_position (tether_json_document_get_position, doc, json_array_get_element (array, 0), 1, 41);
  g_assert_false (tether_json_document_get_key_position (doc, json_array_get_element (array, 0), NULL, NULL));
  assert_position (tether_json_document_get_position, doc, inner, 2, 4);
  assert_position (tether_json_document_get_key_position, doc,
                   json_object_get_member (json_node_get_object (inner), "d"), 2, 5);
  assert_position (tether_json_document_get_position, doc,
                   json_object_get_member (json_node_get_object (inner), "d"), 2, 10);

  assert_position (tether_json_document_get_key_position, doc, json_object_get_member (object, "e"), 3, 4);
  assert_position (tether_json_document_get_position, doc, json_object_get_member (object, "e"), 5, 3);
  g_assert_cmpstr (json_object_get_string_member (object, "e"), ==, "😀");
  assert_position (tether_json_document_get_key_position, doc, json_object_get_member (object, "f"), 5, 8);
  assert_position (tether_json_document_get_position, doc, json_object_get_member (object, "f"), 5, 13);
  g_assert_cmpstr (json_object_get_string_member (object, "f"), ==, "😀");
  assert_position (tether_json_document_get_key_position, doc, json_object_get_member (object, "g"), 5, 29);
  assert_position (tether_json_document_get_position, doc, json_object_get_member (object, "g"), 5, 34);

  /* Nodes of another tree have no position here */
  g_assert_false (tether_json_document_get_position (doc, foreign, NULL, NULL));
  g_assert_false (tether_json_document_get_key_position (doc, foreign, NULL, NULL));
}

static void
test_byte_order_mark (void)
{
  g_autoptr(TetherJsonDocument) doc = parse_ok ("\xef\xbb\xbf{\"a\": 1}");
  JsonObject *object = json_node_get_object (tether_json_document_get_root (doc));
  guint line;
  guint column;

  /* An editor hides it, so it takes no column */
  assert_position (tether_json_document_get_position, doc, tether_json_document_get_root (doc), 1, 1);
  assert_position (tether_json_document_get_key_position, doc, json_object_get_member (object, "a"), 1, 2);

  tether_json_get_position_at ("\xef\xbb\xbf{\"é\": 1}", 9, &line, &column);
  g_assert_cmpuint (line, ==, 1);
  g_assert_cmpuint (column, ==, 6);
  tether_json_get_position_at ("{\n\t\"a\"", 6, &line, &column);
  g_assert_cmpuint (line, ==, 2);
  g_assert_cmpuint (column, ==, 5);

  /* Only at the start */
  assert_parse_error ("{\"a\": \xef\xbb\xbf 1}", -1, TETHER_JSON_ERROR_SYNTAX,
                      "1:7: expected a value (a string in double quotes, a number, an object, an array, "
                      "true, false or null) but found \"\xef\xbb\xbf\"");
}

/* A position is counted from the start of its line even where many values
 * share one long line. */
static void
test_long_line (void)
{
  g_autoptr(GString) json = g_string_new ("[");
  g_autoptr(TetherJsonDocument) doc = NULL;
  JsonArray *array;

  for (guint i = 0; i < 10000; i++)
    g_string_append (json, i == 0 ? "\"é\"" : ",\"é\"");
  g_string_append (json, "]");

  doc = parse_ok (json->str);
  array = json_node_get_array (tether_json_document_get_root (doc));
  g_assert_cmpuint (json_array_get_length (array), ==, 10000);

  /* Looked up out of order, too */
  assert_position (tether_json_document_get_position, doc, json_array_get_element (array, 9999), 1, 2 + 9999 * 4);
  assert_position (tether_json_document_get_position, doc, json_array_get_element (array, 0), 1, 2);
  assert_position (tether_json_document_get_position, doc, json_array_get_element (array, 5000), 1, 2 + 5000 * 4);
}

/* ------------------------------------------------------------------------ */

static void
test_numbers (void)
{
  static const struct {
    const char *text;
    gint64 value;
  } integers[] = {
    { "0", 0 },
    { "-0", 0 },
    { "7", 7 },
    { "-12", -12 },
    { "9223372036854775807", G_MAXINT64 },
    { "-9223372036854775808", G_MININT64 },
  };
  static const struct {
    const char *text;
    double value;
  } doubles[] = {
    { "0.5", 0.5 },
    { "-0.0", -0.0 },
    { "1e2", 100 },
    { "1E+2", 100 },
    { "25e-1", 2.5 },
    { "-1.5e3", -1500 },
    { "4.0", 4 },
    /* Beyond 64 bits an integer is kept as a double, not wrapped */
    { "9223372036854775808", 9223372036854775808.0 },
    { "-9223372036854775809", -9223372036854775809.0 },
    { "18446744073709551616", 18446744073709551616.0 },
    { "123456789012345678901234567890", 123456789012345678901234567890.0 },
    { "1e-400", 0 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (integers); i++)
    {
      g_autofree char *json = g_strdup_printf ("[%s]", integers[i].text);
      g_autoptr(TetherJsonDocument) doc = parse_ok (json);
      JsonNode *node = json_array_get_element (json_node_get_array (tether_json_document_get_root (doc)), 0);

      g_test_message ("%s", integers[i].text);
      g_assert_cmpint (json_node_get_value_type (node), ==, G_TYPE_INT64);
      g_assert_cmpint (json_node_get_int (node), ==, integers[i].value);
    }

  for (guint i = 0; i < G_N_ELEMENTS (doubles); i++)
    {
      g_autofree char *json = g_strdup_printf ("[%s]", doubles[i].text);
      g_autoptr(TetherJsonDocument) doc = parse_ok (json);
      JsonNode *node = json_array_get_element (json_node_get_array (tether_json_document_get_root (doc)), 0);

      g_test_message ("%s", doubles[i].text);
      g_assert_cmpint (json_node_get_value_type (node), ==, G_TYPE_DOUBLE);
      g_assert_cmpfloat (json_node_get_double (node), ==, doubles[i].value);
      g_assert_cmpint (signbit (json_node_get_double (node)), ==, signbit (doubles[i].value));
    }

  /* Too large for a double: infinite, as strtod says */
  {
    g_autoptr(TetherJsonDocument) doc = parse_ok ("1e400");

    g_assert_true (isinf (json_node_get_double (tether_json_document_get_root (doc))));
  }

  /* A number at the very end of the input, not followed by a NUL */
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(TetherJsonDocument) doc = tether_json_parse ("12.5e1xyz", 6, 64, &error);

    g_assert_no_error (error);
    g_assert_cmpfloat (json_node_get_double (tether_json_document_get_root (doc)), ==, 125);
  }

  assert_parse_error ("[05]", -1, TETHER_JSON_ERROR_SYNTAX, "1:2: invalid number: a number must not start with 0");
  assert_parse_error ("[-05]", -1, TETHER_JSON_ERROR_SYNTAX, "1:2: invalid number: a number must not start with 0");
  assert_parse_error ("[-]", -1, TETHER_JSON_ERROR_SYNTAX, "1:2: invalid number: expected a digit after \"-\"");
  assert_parse_error ("[-x]", -1, TETHER_JSON_ERROR_SYNTAX, "1:2: invalid number: expected a digit after \"-\"");
  assert_parse_error ("[1.]", -1, TETHER_JSON_ERROR_SYNTAX, "1:2: invalid number: expected a digit after \".\"");
  assert_parse_error ("[1.e5]", -1, TETHER_JSON_ERROR_SYNTAX, "1:2: invalid number: expected a digit after \".\"");
  assert_parse_error ("[1e]", -1, TETHER_JSON_ERROR_SYNTAX, "1:2: invalid number: expected a digit in the exponent");
  assert_parse_error ("[1e+]", -1, TETHER_JSON_ERROR_SYNTAX, "1:2: invalid number: expected a digit in the exponent");
  assert_parse_error ("[+1]", -1, TETHER_JSON_ERROR_SYNTAX,
                      "1:2: expected a value (a string in double quotes, a number, an object, an array, "
                      "true, false or null) but found \"+\"");
  assert_parse_error ("[.5]", -1, TETHER_JSON_ERROR_SYNTAX,
                      "1:2: expected a value (a string in double quotes, a number, an object, an array, "
                      "true, false or null) but found \".\"");
  assert_parse_error ("[1x]", -1, TETHER_JSON_ERROR_SYNTAX, "1:3: expected \",\" or \"]\" but found \"x\"");
  assert_parse_error ("[0x10]", -1, TETHER_JSON_ERROR_SYNTAX, "1:3: expected \",\" or \"]\" but found \"x10\"");
  assert_parse_error ("[NaN]", -1, TETHER_JSON_ERROR_SYNTAX,
                      "1:2: expected a value (a string in double quotes, a number, an object, an array, "
                      "true, false or null) but found \"NaN\"");
}

static void
test_literals (void)
{
  assert_parse_error ("[True]", -1, TETHER_JSON_ERROR_SYNTAX,
                      "1:2: expected a value (a string in double quotes, a number, an object, an array, "
                      "true, false or null) but found \"True\"");
  assert_parse_error ("[nulll]", -1, TETHER_JSON_ERROR_SYNTAX,
                      "1:2: expected a value (a string in double quotes, a number, an object, an array, "
                      "true, false or null) but found \"nulll\"");
  assert_parse_error ("[truefalse]", -1, TETHER_JSON_ERROR_SYNTAX,
                      "1:2: expected a value (a string in double quotes, a number, an object, an array, "
                      "true, false or null) but found \"truefalse\"");
  /* "true" cut short by the explicit length */
  assert_parse_error ("[tru", 4, TETHER_JSON_ERROR_SYNTAX,
                      "1:2: expected a value (a string in double quotes, a number, an object, an array, "
                      "true, false or null) but found \"tru\"");
}

static void
test_strings (void)
{
  g_autoptr(TetherJsonDocument) doc = parse_ok ("[\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t\", \"\\u0041\\u00E9\\u20ac\", "
                                                "\"\\ud83d\\ude00 \\uD834\\uDD1E\", \"é😀\", \"\"]");
  JsonArray *array = json_node_get_array (tether_json_document_get_root (doc));

  g_assert_cmpstr (json_array_get_string_element (array, 0), ==, "\" \\ / \b \f \n \r \t");
  g_assert_cmpstr (json_array_get_string_element (array, 1), ==, "Aé€");
  g_assert_cmpstr (json_array_get_string_element (array, 2), ==, "😀 𝄞");
  g_assert_cmpstr (json_array_get_string_element (array, 3), ==, "é😀");
  g_assert_cmpstr (json_array_get_string_element (array, 4), ==, "");

  assert_parse_error ("[\"a\\x\"]", -1, TETHER_JSON_ERROR_SYNTAX,
                      "1:4: invalid escape \"\\\" followed by \"x\": use \\\\ for a backslash");
  assert_parse_error ("[\"é\\'\"]", -1, TETHER_JSON_ERROR_SYNTAX,
                      "1:4: invalid escape \"\\\" followed by \"'\" (JSON strings use double quotes): "
                      "use \\\\ for a backslash");
  assert_parse_error ("[\"\\u12\"]", -1, TETHER_JSON_ERROR_SYNTAX,
                      "1:3: invalid escape: \\u must be followed by four hexadecimal digits");
  assert_parse_error ("[\"\\u12G4\"]", -1, TETHER_JSON_ERROR_SYNTAX,
                      "1:3: invalid escape: \\u must be followed by four hexadecimal digits");
  assert_parse_error ("[\"ab\\uDE00\"]", -1, TETHER_JSON_ERROR_SYNTAX,
                      "1:5: invalid escape: \\uDE00 is the second half of a UTF-16 surrogate pair "
                      "without a first half");
  assert_parse_error ("[\"\\ud83d\"]", -1, TETHER_JSON_ERROR_SYNTAX,
                      "1:3: invalid escape: \\uD83D must be followed by the second half of its "
                      "UTF-16 surrogate pair");
  assert_parse_error ("[\"\\ud83d\\u0041\"]", -1, TETHER_JSON_ERROR_SYNTAX,
                      "1:3: invalid escape: \\uD83D must be followed by the second half of its "
                      "UTF-16 surrogate pair");
  assert_parse_error ("[\"\\ud83d\\ud83d\"]", -1, TETHER_JSON_ERROR_SYNTAX,
                      "1:3: invalid escape: \\uD83D must be followed by the second half of its "
                      "UTF-16 surrogate pair");
  assert_parse_error ("[\"a\tb\"]", -1, TETHER_JSON_ERROR_SYNTAX,
                      "1:4: control character U+0009 inside a string: write it as an escape such as \\t");
  assert_parse_error ("[\"a\x7f\x01\"]", -1, TETHER_JSON_ERROR_SYNTAX,
                      "1:5: control character U+0001 inside a string: write it as an escape such as \\t");
  assert_parse_error ("\n [\"ab\r\n\"]", -1, TETHER_JSON_ERROR_SYNTAX,
                      "2:6: line break inside the string starting at line 2, column 3: "
                      "close it with '\"' or write \\n");
  assert_parse_error ("[\"ab\\", -1, TETHER_JSON_ERROR_SYNTAX,
                      "1:6: found the end of the file inside the string starting at line 1, column 2: "
                      "close it with '\"'");
  assert_parse_error ("['a']", -1, TETHER_JSON_ERROR_SYNTAX,
                      "1:2: expected a value (a string in double quotes, a number, an object, an array, "
                      "true, false or null) but found \"'\" (JSON strings use double quotes)");
}

static void
test_encoding (void)
{
  /* The invalid byte itself is pointed at, even past a syntax error */
  assert_parse_error ("[\"é\xff\"]", -1, TETHER_JSON_ERROR_ENCODING, "1:4: invalid UTF-8 or a NUL byte");
  assert_parse_error ("[1,,\n 2, \"\xc3\"]", -1, TETHER_JSON_ERROR_ENCODING, "2:6: invalid UTF-8 or a NUL byte");
  /* An overlong form and an encoded surrogate are not UTF-8 */
  assert_parse_error ("[\"\xc0\xaf\"]", -1, TETHER_JSON_ERROR_ENCODING, "1:3: invalid UTF-8 or a NUL byte");
  assert_parse_error ("[\"\xed\xa0\x80\"]", -1, TETHER_JSON_ERROR_ENCODING, "1:3: invalid UTF-8 or a NUL byte");
  /* A NUL byte within the given length */
  assert_parse_error ("[\"a\0\"]", 6, TETHER_JSON_ERROR_ENCODING, "1:4: invalid UTF-8 or a NUL byte");
  assert_parse_error ("[1]\0", 4, TETHER_JSON_ERROR_ENCODING, "1:4: invalid UTF-8 or a NUL byte");
}

static void
test_syntax_errors (void)
{
  assert_parse_error ("", -1, TETHER_JSON_ERROR_EMPTY, "1:1: expected a JSON value but found the end of the file");
  assert_parse_error (" \n\t ", -1, TETHER_JSON_ERROR_EMPTY, "2:3: expected a JSON value but found the end of the file");
  assert_parse_error ("{\"a\": 1,\n}", -1, TETHER_JSON_ERROR_SYNTAX,
                      "1:8: trailing comma: JSON allows no \",\" before \"}\"");
  assert_parse_error ("[1,\n\n ]", -1, TETHER_JSON_ERROR_SYNTAX,
                      "1:3: trailing comma: JSON allows no \",\" before \"]\"");
  assert_parse_error ("[1 2]", -1, TETHER_JSON_ERROR_SYNTAX, "1:4: expected \",\" or \"]\" but found a number");
  assert_parse_error ("{\"a\": 1]", -1, TETHER_JSON_ERROR_SYNTAX, "1:8: expected \",\" or \"}\" but found \"]\"");
  assert_parse_error ("[1}", -1, TETHER_JSON_ERROR_SYNTAX, "1:3: expected \",\" or \"]\" but found \"}\"");
  assert_parse_error ("{\"a\" 1}", -1, TETHER_JSON_ERROR_SYNTAX,
                      "1:6: expected \":\" after the field name \"a\" but found a number");
  assert_parse_error ("{a: 1}", -1, TETHER_JSON_ERROR_SYNTAX,
                      "1:2: expected a field name in double quotes or \"}\" but found \"a\"");
  assert_parse_error ("{\"a\": 1, 2}", -1, TETHER_JSON_ERROR_SYNTAX,
                      "1:10: expected a field name in double quotes but found a number");
  assert_parse_error ("[,]", -1, TETHER_JSON_ERROR_SYNTAX,
                      "1:2: expected a value (a string in double quotes, a number, an object, an array, "
                      "true, false or null) but found \",\"");
  assert_parse_error ("{\"a\": }", -1, TETHER_JSON_ERROR_SYNTAX,
                      "1:7: expected a value (a string in double quotes, a number, an object, an array, "
                      "true, false or null) but found \"}\"");
  assert_parse_error ("[1] [2]", -1, TETHER_JSON_ERROR_SYNTAX, "1:5: found \"[\" after the end of the JSON value");
  assert_parse_error ("1 2", -1, TETHER_JSON_ERROR_SYNTAX, "1:3: found a number after the end of the JSON value");
  assert_parse_error ("[\x01]", -1, TETHER_JSON_ERROR_SYNTAX,
                      "1:2: expected a value (a string in double quotes, a number, an object, an array, "
                      "true, false or null) but found U+0001");
  assert_parse_error ("[1, /* no */ 2]", -1, TETHER_JSON_ERROR_SYNTAX,
                      "1:5: expected a value (a string in double quotes, a number, an object, an array, "
                      "true, false or null) but found \"/\"");
  assert_parse_error ("{\"a\": [1, {\"b\": 2}, ", -1, TETHER_JSON_ERROR_SYNTAX,
                      "1:21: expected a value but found the end of the file: the array opened at line 1, "
                      "column 7 is not closed");
  assert_parse_error ("{\"a\": [1, {\"b\": 2}]", -1, TETHER_JSON_ERROR_SYNTAX,
                      "1:20: expected \",\" or \"}\" but found the end of the file: the object opened at "
                      "line 1, column 1 is not closed");
  assert_parse_error ("{\"a\":\n", -1, TETHER_JSON_ERROR_SYNTAX,
                      "2:1: expected a value but found the end of the file: the object opened at line 1, "
                      "column 1 is not closed");
  assert_parse_error ("[\n", -1, TETHER_JSON_ERROR_SYNTAX,
                      "2:1: expected a value or \"]\" but found the end of the file: the array opened at "
                      "line 1, column 1 is not closed");
  assert_parse_error ("{", -1, TETHER_JSON_ERROR_SYNTAX,
                      "1:2: expected a field name in double quotes or \"}\" but found the end of the file: "
                      "the object opened at line 1, column 1 is not closed");
  assert_parse_error ("{\"a\": 1,", -1, TETHER_JSON_ERROR_SYNTAX,
                      "1:9: expected a field name in double quotes but found the end of the file: "
                      "the object opened at line 1, column 1 is not closed");
}

static void
test_duplicate_keys (void)
{
  g_autoptr(TetherJsonDocument) doc = NULL;

  assert_parse_error ("{\"a\": 1,\n \"b\": {\"a\": 2},\n \"a\": 3}", -1, TETHER_JSON_ERROR_SYNTAX,
                      "3:2: duplicate field \"a\" (first defined at line 1, column 2)");
  assert_parse_error ("[{\"é\": 1, \"\\u00e9\": 2}]", -1, TETHER_JSON_ERROR_SYNTAX,
                      "1:11: duplicate field \"é\" (first defined at line 1, column 3)");

  /* The same name in different objects is no duplicate */
  doc = parse_ok ("[{\"a\": 1}, {\"a\": 2, \"b\": {\"a\": 3}}]");
  g_assert_nonnull (doc);
}

static void
test_nesting (void)
{
  g_autoptr(GString) deep = g_string_new (NULL);
  g_autoptr(GString) nested = g_string_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherJsonDocument) doc = NULL;
  gint64 start;

  for (guint i = 0; i < 100000; i++)
    g_string_append_c (deep, '[');

  /* Refused at the first bracket too many, long before the end */
  start = g_get_monotonic_time ();
  assert_parse_error (deep->str, -1, TETHER_JSON_ERROR_DEPTH,
                      "1:65: objects and arrays are nested too deeply (more than 64 levels)");
  doc = tether_json_parse (deep->str, -1, TETHER_JSON_MAX_DEPTH, &error);
  g_assert_null (doc);
  g_assert_error (error, TETHER_JSON_ERROR, TETHER_JSON_ERROR_DEPTH);
  g_assert_cmpstr (error->message, ==, "1:1001: objects and arrays are nested too deeply (more than 1000 levels)");
  g_clear_error (&error);
  g_test_message ("100000 brackets refused in %" G_GINT64_FORMAT " microseconds", g_get_monotonic_time () - start);

  /* Exactly at the limit is fine, and is freed without trouble */
  for (guint i = 0; i < TETHER_JSON_MAX_DEPTH; i++)
    g_string_append (nested, i % 2 == 0 ? "[" : "{\"k\":");
  g_string_append (nested, "0");
  for (guint i = TETHER_JSON_MAX_DEPTH; i > 0; i--)
    g_string_append_c (nested, (i - 1) % 2 == 0 ? ']' : '}');
  doc = tether_json_parse (nested->str, -1, TETHER_JSON_MAX_DEPTH, &error);
  g_assert_no_error (error);
  g_assert_nonnull (doc);
  g_clear_pointer (&doc, tether_json_document_free);

  doc = tether_json_parse (nested->str, -1, TETHER_JSON_MAX_DEPTH - 1, &error);
  g_assert_error (error, TETHER_JSON_ERROR, TETHER_JSON_ERROR_DEPTH);
  g_clear_error (&error);

  /* Depth 0 allows scalars only */
  doc = tether_json_parse ("1", -1, 0, &error);
  g_assert_no_error (error);
  g_clear_pointer (&doc, tether_json_document_free);
  doc = tether_json_parse ("[]", -1, 0, &error);
  g_assert_null (doc);
  g_assert_error (error, TETHER_JSON_ERROR, TETHER_JSON_ERROR_DEPTH);
  g_assert_cmpstr (error->message, ==, "1:1: objects and arrays are nested too deeply (more than 0 levels)");
}

/* Every prefix of a valid document fails cleanly: an error, no document,
 * and nothing read past the given length. */
static void
test_truncated (void)
{
  const char *json =
    "\xef\xbb\xbf{\n"
    "  \"name\": \"Démo \\\"1\\\" \\ud83d\\ude00\",\n"
    "  \"command\": [\"python3\", \"-u\", \"server.py\"],\n"
    "  \"numbers\": [0, -1, 2.5, -3e-2, 1E+2, true, false, null],\n"
    "  \"nested\": {\"a\": {\"b\": [[], {}, [{}]]}}\n"
    "}\n";
  gsize length = strlen (json);
  g_autoptr(TetherJsonDocument) whole = NULL;

  whole = parse_ok (json);
  g_assert_nonnull (whole);

  for (gsize n = 0; n < length; n++)
    {
      g_autofree char *prefix = g_malloc (MAX (n, 1));
      g_autoptr(GError) error = NULL;
      g_autoptr(TetherJsonDocument) doc = NULL;
      gboolean complete;

      memcpy (prefix, json, n);
      doc = tether_json_parse (prefix, (gssize) n, 64, &error);

      /* Only the closing brace and what follows it complete the document */
      complete = n >= length - 1;
      if (complete)
        {
          g_assert_no_error (error);
          g_assert_nonnull (doc);
          continue;
        }

      g_assert_null (doc);
      g_assert_nonnull (error);
      g_assert_true (error->domain == TETHER_JSON_ERROR);
      /* A cut inside a UTF-8 sequence is an encoding error; anything else
       * a syntax error, or an empty document before the brace. */
      if (error->code != TETHER_JSON_ERROR_ENCODING && error->code != TETHER_JSON_ERROR_EMPTY)
        g_assert_cmpint (error->code, ==, TETHER_JSON_ERROR_SYNTAX);
      g_assert_true (g_regex_match_simple ("^[0-9]+:[0-9]+: ", error->message, 0, 0));
    }
}

static char *
write_json (const char *text)
{
  g_autoptr(TetherJsonDocument) doc = NULL;
  g_autoptr(GError) error = NULL;

  doc = tether_json_parse (text, -1, 64, &error);
  g_assert_no_error (error);
  return tether_json_to_string (tether_json_document_get_root (doc), FALSE);
}

/* Written back: doubles in the fewest digits that read as the same
 * number, everything else as json-glib would. */
static void
test_write (void)
{
  const struct { const char *in, *out; } cases[] = {
    { "0.3", "0.3" },
    { "0.29999999999999999", "0.3" },
    { "0.30000000000000004", "0.30000000000000004" },
    { "2.0", "2.0" },
    { "1e300", "1e+300" },
    { "-0.0", "-0.0" },
    { "0.000399", "0.000399" },
    { "12", "12" },
    { "-9223372036854775808", "-9223372036854775808" },
    { "[true,false,null]", "[true,false,null]" },
    { "{\"a\":\"x\\ny\\u001b\\\"z\\\\\",\"b\":[]}", "{\"a\":\"x\\ny\\u001b\\\"z\\\\\",\"b\":[]}" },
    { "\"\u00e9\u20ac\"", "\"\u00e9\u20ac\"" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *out = write_json (cases[i].in);
      g_assert_cmpstr (out, ==, cases[i].out);
    }

  /* What is written reads back as the same document, for a double that
   * needs all 17 digits too. */
  {
    g_autoptr(JsonNode) node = json_node_init_double (json_node_alloc (), 0.1 + 0.2);
    g_autofree char *text = tether_json_to_string (node, FALSE);
    g_autoptr(TetherJsonDocument) doc = tether_json_parse (text, -1, 4, NULL);

    g_assert_nonnull (doc);
    g_assert_cmpfloat (json_node_get_double (tether_json_document_get_root (doc)), ==, 0.1 + 0.2);
  }
  {
    g_autoptr(JsonNode) node = json_node_init_double (json_node_alloc (), INFINITY);
    g_autofree char *text = tether_json_to_string (node, FALSE);
    g_assert_cmpstr (text, ==, "null");
  }
  {
    g_autofree char *pretty = NULL;
    g_autoptr(TetherJsonDocument) doc = tether_json_parse ("{\"a\":[1,{\"b\":2}],\"c\":{}}", -1, 8, NULL);

    pretty = tether_json_to_string (tether_json_document_get_root (doc), TRUE);
    g_assert_cmpstr (pretty, ==, "{\n  \"a\": [\n    1,\n    {\n      \"b\": 2\n    }\n  ],\n  \"c\": {}\n}");
  }
}

static void
test_write_control_characters (void)
{
  /* json-glib leaves U+001F raw; a backend's command line may hold any of
   * these, and strict readers refuse them unescaped (found by fuzz-json). */
  g_autoptr(GString) all = g_string_new (NULL);
  g_autoptr(JsonNode) object_node = NULL;
  g_autoptr(TetherJsonDocument) doc = NULL;
  g_autoptr(GError) error = NULL;
  JsonObject *object = json_object_new ();

  for (char c = 1; c < 0x20; c++)
    g_string_append_c (all, c);
  g_string_append (all, "\x7f\u2028 end");
  json_object_set_string_member (object, "cmdline", all->str);
  json_object_set_string_member (object, all->str, "key");
  object_node = json_node_init_object (json_node_alloc (), object);
  json_object_unref (object);

  for (int pretty = 0; pretty <= 1; pretty++)
    {
      g_autofree char *text = tether_json_to_string (object_node, pretty);

      for (const char *p = text; *p != '\0'; p++)
        g_assert_true ((guchar) *p >= 0x20 || (pretty && *p == '\n'));
      g_assert_nonnull (strstr (text, "\\u001f"));

      g_clear_pointer (&doc, tether_json_document_free);
      doc = tether_json_parse (text, -1, 64, &error);
      g_assert_no_error (error);
      g_assert_true (json_node_equal (tether_json_document_get_root (doc), object_node));
    }
}

static void
test_write_exponents (void)
{
  /* json-glib 1.6 appends ".0" to any double without a '.': "1e+17.0"
   * (found by fuzz-json). */
  const double values[] = { 1e17, -2e300, 1e22, 0.5, 3.0, -0.0, 1e-7 };
  g_autoptr(JsonArray) array = json_array_new ();
  g_autoptr(JsonNode) array_node = NULL;

  for (gsize i = 0; i < G_N_ELEMENTS (values); i++)
    json_array_add_double_element (array, values[i]);
  json_array_add_string_element (array, "1e+17.0 stays in a string");
  array_node = json_node_init_array (json_node_alloc (), array);

  for (int pretty = 0; pretty <= 1; pretty++)
    {
      g_autofree char *text = tether_json_to_string (array_node, pretty);
      g_autoptr(TetherJsonDocument) doc = NULL;
      g_autoptr(GError) error = NULL;
      JsonArray *read;

      g_assert_nonnull (strstr (text, "1e+17"));
      g_assert_null (strstr (text, "1e+17.0,"));
      g_assert_nonnull (strstr (text, "\"1e+17.0 stays in a string\""));
      doc = tether_json_parse (text, -1, 64, &error);
      g_assert_no_error (error);
      read = json_node_get_array (tether_json_document_get_root (doc));
      for (guint i = 0; i < G_N_ELEMENTS (values); i++)
        g_assert_cmpfloat (json_array_get_double_element (read, i), ==, values[i]);
      g_assert_true (json_node_equal (tether_json_document_get_root (doc), array_node));
    }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/json/values", test_values);
  g_test_add_func ("/json/scalar-roots", test_scalar_roots);
  g_test_add_func ("/json/positions", test_positions);
  g_test_add_func ("/json/byte-order-mark", test_byte_order_mark);
  g_test_add_func ("/json/long-line", test_long_line);
  g_test_add_func ("/json/numbers", test_numbers);
  g_test_add_func ("/json/literals", test_literals);
  g_test_add_func ("/json/strings", test_strings);
  g_test_add_func ("/json/encoding", test_encoding);
  g_test_add_func ("/json/syntax-errors", test_syntax_errors);
  g_test_add_func ("/json/duplicate-keys", test_duplicate_keys);
  g_test_add_func ("/json/nesting", test_nesting);
  g_test_add_func ("/json/truncated", test_truncated);
  g_test_add_func ("/json/write/control-characters", test_write_control_characters);
  g_test_add_func ("/json/write/exponents", test_write_exponents);

  g_test_add_func ("/json/write/round-trip", test_write);

  return g_test_run ();
}
