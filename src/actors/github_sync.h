/*
 * github_sync.h -- the GitHub sync actor: batch syncs from the GitHub REST
 * API. A dedicated thread drives its HTTP requests through the runtime
 * (http_fetch), one at a time for the token, paced by GitHub's limits
 * (gh_rules); walks each repository's issues by an updated_at cursor
 * (gh_page); publishes each page's new issue versions to issues.raw with
 * the pipeline's producer, and checkpoints the sync (gh_sync_store) only
 * once Kafka has them. Syncs whose process died are taken over when their
 * lease expires.
 */
#ifndef DISPATCHD_GITHUB_SYNC_H
#define DISPATCHD_GITHUB_SYNC_H

#include "actors.h"

enum github_sync_msg {
    MSG_GH_SYNC_START = RT_MSG_USER + 0x1000, /* http, CLI: gh_sync_start_msg_t */
};

/* Start a sync of owner/repo for user: its issues are counted first
 * (GitHub's search API); above LARGE_SYNC_THRESHOLD without force the
 * answer asks for confirmation (200) and nothing is written. Else 202
 * {sync_id, status} and the sync runs here; 409 while the user's sync of
 * the repository is pending or syncing (with running_here and its sync_id
 * when it runs in this process: resumed here, say); 404 when GitHub knows no
 * such repository; 502/503 when GitHub or the database does not answer.
 * reply(ctx, status, json) runs on the actor's thread. */
typedef struct gh_sync_start_msg {
    rt_msg_t hdr;
    char user[256], owner[128], repo[128];
    bool force;
    void (*reply)(void *ctx, int status, const char *json);
    void *ctx;
} gh_sync_start_msg_t;

/* Which orphaned syncs this actor takes over: all of them (NULL fields:
 * `dispatchd run`), or one user's sync of one repository (the CLI). */
typedef struct gh_sync_scope {
    const char *user, *owner, *repo;
} gh_sync_scope_t;

rt_actor_t *github_sync_spawn(const actor_env_t *env, const gh_sync_scope_t *scope);

#endif
