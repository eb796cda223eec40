#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "log.h"

void cli_error(const char *fmt, ...)
{
    va_list ap;
    fputs("dispatchd: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int cli_load_config(int argc, char **argv, const char *usage, config_t *cfg)
{
    const char *file = NULL;
    int i = 1;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("%s", usage);
            return -1;
        } else if (strcmp(argv[i], "--config") == 0) {
            if (i + 1 >= argc) {
                cli_error("--config needs a FILE");
                return EXIT_USAGE;
            }
            file = argv[++i];
        } else if (strncmp(argv[i], "--config=", 9) == 0) {
            file = argv[i] + 9;
        } else {
            cli_error("%s: unexpected argument '%s'", argv[0], argv[i]);
            return EXIT_USAGE;
        }
    }
    char err[512];
    if (config_load(cfg, file, err, sizeof(err)) != 0) {
        cli_error("%s", err);
        config_free(cfg);
        return EXIT_USAGE;
    }
    log_set_level((enum log_level)log_parse_level(cfg->log_level));
    return 0;
}
