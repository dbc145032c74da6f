/* fuzz-replay.c: runs a fuzz target over files, as a TAP test
 *
 * Linked with one fuzz-*.c instead of libFuzzer's main: every build runs
 * the committed corpus (the seeds and the input of every crash found so
 * far) through the target's checks, so what was fixed stays fixed without
 * clang. Arguments are files or directories (every file in them, sorted);
 * one TAP result per argument.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "fuzz-common.h"

static int
compare_names (gconstpointer a,
               gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

/* The files to run for one argument, sorted so a failure reproduces in
 * the same order. */
static GPtrArray *
list_inputs (const char  *path,
             GError     **error)
{
  g_autoptr(GPtrArray) inputs = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GDir) dir = NULL;
  const char *name;

  if (!g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      g_ptr_array_add (inputs, g_strdup (path));
      return g_steal_pointer (&inputs);
    }

  dir = g_dir_open (path, 0, error);
  if (dir == NULL)
    return NULL;
  while ((name = g_dir_read_name (dir)) != NULL)
    g_ptr_array_add (inputs, g_build_filename (path, name, NULL));
  g_ptr_array_sort (inputs, compare_names);
  return g_steal_pointer (&inputs);
}

int
main (int    argc,
      char **argv)
{
  int failed = 0;

  LLVMFuzzerInitialize (&argc, &argv);
  printf ("1..%d\n", argc - 1);

  for (int i = 1; i < argc; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GPtrArray) inputs = list_inputs (argv[i], &error);

      if (inputs == NULL || inputs->len == 0)
        {
          printf ("not ok %d - %s: %s\n", i, argv[i],
                  error != NULL ? error->message : "no inputs");
          failed++;
          continue;
        }

      for (guint j = 0; j < inputs->len; j++)
        {
          const char *input = g_ptr_array_index (inputs, j);
          g_autofree char *contents = NULL;
          gsize length;

          if (!g_file_get_contents (input, &contents, &length, &error))
            break;
          /* Named before it runs: a broken check aborts the program. */
          printf ("# %s\n", input);
          fflush (stdout);
          /* An exact copy, as libFuzzer passes it: a build with
           * AddressSanitizer sees a read past the end (g_file_get_contents
           * adds a NUL), and an empty input is not NULL (malloc (0)). */
          {
            uint8_t *exact = malloc (length);

            g_assert_nonnull (exact);
            memcpy (exact, contents, length);
            LLVMFuzzerTestOneInput (exact, length);
            free (exact);
          }
        }

      if (error != NULL)
        {
          printf ("not ok %d - %s: %s\n", i, argv[i], error->message);
          failed++;
        }
      else
        {
          printf ("ok %d - %s: %u inputs\n", i, argv[i], inputs->len);
        }
    }

  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
