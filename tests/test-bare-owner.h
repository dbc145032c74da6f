/* test-bare-owner.h: a TetherOwner with no verbs of its own
 *
 * For a test that drives a TetherOwnerClient directly: the client is what
 * runs the verbs, and it needs an owner to tell of spawns, exits and an
 * empty tree. Header-only, so a fuzz target can use it without the test
 * library.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "tether-owner.h"

G_BEGIN_DECLS

#define TEST_TYPE_BARE_OWNER (test_bare_owner_get_type ())
G_DECLARE_FINAL_TYPE (TestBareOwner, test_bare_owner, TEST, BARE_OWNER, TetherOwner)

struct _TestBareOwner
{
  TetherOwner parent_instance;
};

G_DEFINE_FINAL_TYPE (TestBareOwner, test_bare_owner, TETHER_TYPE_OWNER)

static void
test_bare_owner_class_init (TestBareOwnerClass *klass)
{
}

static void
test_bare_owner_init (TestBareOwner *self)
{
}

G_END_DECLS
