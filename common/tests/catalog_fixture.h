/* catalog_fixture.h - the fixture of the tests that validate messages (test_validate.c,
 * test_vote_scan.c): the stack's poll catalog, loaded once per group, and the message id
 * and receive time their expected messages carry. */
#ifndef VC_TEST_CATALOG_FIXTURE_H
#define VC_TEST_CATALOG_FIXTURE_H

#include "catalog.h"

#define ID "01KAMXS8BV0000000000000001"
#define TS 1763786400123LL

static vc_catalog *cat;

static int catalog_setup(void **state)
{
    char err[256];
    (void)state;
    cat = vc_catalog_load(TEST_SRCDIR "/../stack/polls.json", err, sizeof(err));
    return cat ? 0 : -1;
}

static int catalog_teardown(void **state)
{
    (void)state;
    vc_catalog_free(cat);
    return 0;
}

#endif
