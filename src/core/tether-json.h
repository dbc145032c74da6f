/* tether-json.h: a strict JSON parser that remembers where every value stands
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define TETHER_JSON_ERROR (tether_json_error_quark ())

/* Every message reads "LINE:COLUMN: what is wrong". The codes let a caller
 * word the cases its reader needs in its own terms (a profile is a file,
 * a control request is a line). */
typedef enum
{
  TETHER_JSON_ERROR_SYNTAX,    /* not RFC 8259 JSON, or a duplicate member name */
  TETHER_JSON_ERROR_EMPTY,     /* nothing but whitespace */
  TETHER_JSON_ERROR_ENCODING,  /* invalid UTF-8 or a NUL byte */
  TETHER_JSON_ERROR_DEPTH,     /* objects and arrays nested deeper than max_depth */
} TetherJsonError;

/* json-glib frees a tree recursively, so no document may nest deeper. */
#define TETHER_JSON_MAX_DEPTH 1000

typedef struct _TetherJsonDocument TetherJsonDocument;

GQuark              tether_json_error_quark               (void);

/* Parses one JSON value (RFC 8259, nothing else around it but whitespace
 * and a leading byte-order mark). length -1 means data is NUL-terminated.
 * max_depth: how many objects and arrays may enclose one another (1 allows
 * one container with nothing nested), at most TETHER_JSON_MAX_DEPTH.
 * Integers that fit in 64 bits become G_TYPE_INT64 values, other numbers
 * G_TYPE_DOUBLE. */
TetherJsonDocument *tether_json_parse                     (const char          *data,
                                                           gssize               length,
                                                           guint                max_depth,
                                                           GError             **error);
JsonNode           *tether_json_document_get_root         (TetherJsonDocument  *self);

/* Positions are 1-based; a column counts characters, not bytes (a tab is
 * one, a leading byte-order mark none). They hold for the nodes of this
 * document only; FALSE for any other node. */
gboolean            tether_json_document_get_position     (TetherJsonDocument  *self,
                                                           JsonNode            *node,
                                                           guint               *line,
                                                           guint               *column);
/* Where the name of the object member whose value is node starts; FALSE
 * for the root and for array elements. */
gboolean            tether_json_document_get_key_position (TetherJsonDocument  *self,
                                                           JsonNode            *member_value,
                                                           guint               *line,
                                                           guint               *column);
void                tether_json_document_free             (TetherJsonDocument  *self);

/* Where byte offset of data stands, counted as the positions above are.
 * data up to offset must be valid UTF-8. */
void                tether_json_get_position_at           (const char          *data,
                                                           gsize                offset,
                                                           guint               *line,
                                                           guint               *column);

/* JSON text for node, one line (pretty: indented by two). What json-glib's
 * generator writes, but a double in the fewest digits that read back as
 * the same number ("0.3", not "0.29999999999999999"), and infinities and
 * NaN (which JSON has no words for) as null. */
char               *tether_json_to_string                 (JsonNode            *node,
                                                           gboolean             pretty);

/* value to the nearest multiple of 1 / per_unit, halves away from zero:
 * numbers as precise as they mean (seconds to the millisecond with 1000,
 * a percentage to a tenth with 10), which tether_json_to_string then
 * writes in the fewest digits. */
double              tether_json_round                     (double               value,
                                                           double               per_unit);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TetherJsonDocument, tether_json_document_free)

G_END_DECLS
