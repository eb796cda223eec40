/* migrate.c -- `dispatchd migrate`. */
#include <stdio.h>

#include "cli.h"
#include "schema.h"

static const char *USAGE =
    "usage: dispatchd migrate [--config FILE]\n"
    "Creates or upgrades the database schema (versioned; safe to repeat).\n";

int cmd_migrate(int argc, char **argv)
{
    config_t cfg;
    int rc = cli_load_config(argc, argv, USAGE, &cfg);
    if (rc != 0)
        return rc < 0 ? 0 : rc;
    char err[1024];
    PGconn *c = pg_connect(cfg.database_url, err, sizeof(err));
    if (c == NULL) {
        cli_error("%s", err);
        config_free(&cfg);
        return 1;
    }
    rc = schema_migrate(c, err, sizeof(err)) == 0 ? 0 : 1;
    if (rc)
        cli_error("%s", err);
    PQfinish(c);
    config_free(&cfg);
    return rc;
}
