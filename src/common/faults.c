/*
 * faults.c -- see faults.h. Compiled only into dispatchd-faults.
 */
#include "faults.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/time.h>
#include <unistd.h>

#include "log.h"

static const config_t *g_cfg;
static int g_audit_fd = -1;
static int g_commits;

void faults_init(const config_t *cfg)
{
    g_cfg = cfg;
    if (cfg->classify_audit_file != NULL) {
        /* O_APPEND, one write per line: survives kill -9 line by line. */
        g_audit_fd = open(cfg->classify_audit_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (g_audit_fd < 0)
            log_warn("faults", "classify_audit_file %s: cannot open", cfg->classify_audit_file);
    }
}

void faults_shutdown(void)
{
    if (g_audit_fd >= 0)
        close(g_audit_fd);
    g_audit_fd = -1;
}

uint64_t fault_hold_ms(uint64_t *rng)
{
    if (g_cfg == NULL || g_cfg->hold_ms <= 0)
        return 0;
    if (g_cfg->hold_jitter_ms <= 0)
        return (uint64_t)g_cfg->hold_ms;
    *rng ^= *rng << 13;   /* xorshift64 */
    *rng ^= *rng >> 7;
    *rng ^= *rng << 17;
    return (uint64_t)g_cfg->hold_ms + *rng % (uint64_t)(g_cfg->hold_jitter_ms + 1);
}

bool fault_stall_configured(void)
{
    return g_cfg != NULL && g_cfg->stall_file != NULL;
}

bool fault_stalled(void)
{
    return fault_stall_configured() && access(g_cfg->stall_file, F_OK) == 0;
}

void fault_db_committed(void)
{
    int n = __atomic_add_fetch(&g_commits, 1, __ATOMIC_RELAXED);
    if (g_cfg != NULL && n == g_cfg->fault_kill_after_commits) {
        /* Straight to stderr: the log is asynchronous. */
        dprintf(2, "storage: fault injection: kill -9 after database commit %d\n", n);
        raise(SIGKILL);
    }
}

void fault_classify_audit(int32_t partition, int64_t offset, const char *sync_id)
{
    if (g_audit_fd < 0)
        return;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    dprintf(g_audit_fd, "%d %lld %llu %s\n", partition, (long long)offset,
            (unsigned long long)tv.tv_sec * 1000ULL + (unsigned long long)tv.tv_usec / 1000ULL,
            sync_id[0] ? sync_id : "-");
}

bool fault_watermark_fails(int32_t partition)
{
    return g_cfg != NULL && g_cfg->fault_watermark_partition == partition;
}
