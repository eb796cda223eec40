/* cli.h -- the subcommands of the dispatchd binary (the README's Commands).
 * Each returns the process exit code: 0 success, 2 usage or configuration
 * error, 1 any other failure. */
#ifndef DISPATCHD_CLI_H
#define DISPATCHD_CLI_H

#include <stdbool.h>

#include "config.h"

#define EXIT_USAGE 2

int cmd_run(int argc, char **argv);
int cmd_migrate(int argc, char **argv);
int cmd_topics(int argc, char **argv);
int cmd_sync(int argc, char **argv);
int cmd_watch(int argc, char **argv);
int cmd_dlq(int argc, char **argv);
int cmd_bench(int argc, char **argv);
/* `dispatchd sync OWNER/REPO` from the GitHub API (sync.c parses). */
int cmd_sync_github(const char *owner, const char *repo, const char *user, bool force, config_t *cfg);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);

/* Parses `--config FILE` and --help from argv (argv[0] is the command's
 * name), refuses anything else, loads the configuration and applies its log
 * level. Returns 0 to go on, -1 when --help was served (exit 0), or an exit
 * code after printing why. */
int cli_load_config(int argc, char **argv, const char *usage, config_t *cfg);
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
