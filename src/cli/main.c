/* main.c -- dispatchd's command dispatcher. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "config.h"

static const char *USAGE =
    "usage: dispatchd COMMAND [options]\n"
    "\n"
    "  run [--config FILE]            the worker: consume, classify, store, publish\n"
    "  migrate [--config FILE]        create or upgrade the database schema\n"
    "  topics ensure [--config FILE]  create missing topics, report mismatches\n"
    "  sync OWNER/REPO --from FILE    publish a batch of issues to issues.raw\n"
    "  watch [--repo OWNER/REPO] [--json]  print the live updates of GET /ws\n"
    "  dlq list|replay [filters]      the DLQ's records (metadata), or publish them to issues.raw again\n"
    "  train CSV -o MODEL             train the local classifier on labelled issues\n"
    "  eval CSV [--model M] [--cv K]  precision, recall, F1 per class and macro average\n"
    "  bench load --rate R --events N end-to-end throughput and latency against a deployment\n"
    "  --version                      print the version\n"
    "  --help                         this text; `dispatchd COMMAND --help` for one command\n"
    "\n"
    "Configuration: an INI file (--config) and environment variables, the\n"
    "environment winning:\n\n";

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(USAGE, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(USAGE, stdout);
        config_print_reference();
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("dispatchd %s\n", DISPATCHD_VERSION);
        return 0;
    }
    if (strcmp(cmd, "run") == 0)
        return cmd_run(argc - 1, argv + 1);
    if (strcmp(cmd, "migrate") == 0)
        return cmd_migrate(argc - 1, argv + 1);
    if (strcmp(cmd, "topics") == 0)
        return cmd_topics(argc - 1, argv + 1);
    if (strcmp(cmd, "sync") == 0)
        return cmd_sync(argc - 1, argv + 1);
    if (strcmp(cmd, "dlq") == 0)
        return cmd_dlq(argc - 1, argv + 1);
    if (strcmp(cmd, "bench") == 0)
        return cmd_bench(argc - 1, argv + 1);
    if (strcmp(cmd, "watch") == 0)
        return cmd_watch(argc - 1, argv + 1);
    if (strcmp(cmd, "train") == 0)
        return cmd_train(argc - 1, argv + 1);
    if (strcmp(cmd, "eval") == 0)
        return cmd_eval(argc - 1, argv + 1);
    fprintf(stderr, "dispatchd: unknown command '%s'\n%s", cmd, USAGE);
    return EXIT_USAGE;
}
