/* cli.h -- the subcommands of the dispatchd binary (CONTRACT section 1).
 * Each returns the process exit code: 0 success, 2 usage or configuration
 * error, 1 any other failure. */
#ifndef DISPATCHD_CLI_H
#define DISPATCHD_CLI_H

#include "config.h"

#define EXIT_USAGE 2

int cmd_run(int argc, char **argv);
int cmd_migrate(int argc, char **argv);
int cmd_topics(int argc, char **argv);
int cmd_sync(int argc, char **argv);

/* Parses `--config FILE` (and --help) from argv, loads the configuration and
 * applies its log level. Returns 0, or an exit code after printing why. */
int cli_load_config(int argc, char **argv, const char *usage, config_t *cfg, int *consumed);
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
