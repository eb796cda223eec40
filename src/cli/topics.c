/* topics.c -- `dispatchd topics ensure`. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "kafka.h"

static const char *USAGE =
    "usage: dispatchd topics ensure [--config FILE]\n"
    "Creates missing topics with the configured partitions and retention;\n"
    "reports existing topics that differ, without changing them (exit 1 then).\n";

int cmd_topics(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "ensure") != 0) {
        if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
            printf("%s", USAGE);
            return 0;
        }
        cli_error("topics: expected `ensure`\n%s", USAGE);
        return EXIT_USAGE;
    }
    config_t cfg;
    int rc = cli_load_config(argc - 1, argv + 1, USAGE, &cfg);
    if (rc != 0)
        return rc < 0 ? 0 : rc;
    if (strcmp(cfg.kafka_bootstrap, "embedded") == 0) {
        printf("topics: the embedded broker lives inside `dispatchd run`, which creates its topics\n");
        config_free(&cfg);
        return 0;
    }
    char err[512];
    kafka_env_t kenv;
    kafka_env_open(&kenv, &cfg, false, err, sizeof(err));
    int problems = kafka_topics_ensure(&cfg, &kenv, true, err, sizeof(err));
    if (problems < 0)
        cli_error("%s", err);
    kafka_env_close(&kenv);
    config_free(&cfg);
    return problems == 0 ? 0 : 1;
}
