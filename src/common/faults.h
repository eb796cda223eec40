/*
 * faults.h -- fault injection for the tests, compiled only into the test
 * binary, dispatchd-faults (CMake option DISPATCHD_TEST_FAULTS, which
 * defines DISPATCHD_FAULTS for it). In the shipped dispatchd every hook
 * below is an inline no-op and the [faults] settings do not exist: the
 * binary carries neither their code nor their names (tests/cli/
 * release_has_no_faults.sh checks with nm and strings).
 *
 * The faults, each set by its [faults] key or environment name:
 *   hold_ms, hold_jitter_ms   the classifier holds each record on a timer
 *                             first: a slow model that costs no thread
 *   stall_file                while the file exists the classifier holds
 *                             every record: a stalled downstream
 *   kill_after_commits        kill -9 right after the Nth database commit,
 *                             before anything else: the crash exactly-once
 *                             must survive
 *   classify_audit_file       a line per classification made: what tests
 *                             count to prove nothing is classified twice
 *   watermark_fail_partition  the status snapshot's watermark question for
 *                             that input partition fails: a broker error
 *                             on one partition
 */
#ifndef DISPATCHD_FAULTS_H
#define DISPATCHD_FAULTS_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

#define FAULT_STALL_CHECK_MS 100   /* how often the stall file is looked at */

#ifdef DISPATCHD_FAULTS

/* Reads the [faults] settings (at start, before any hook). */
void faults_init(const config_t *cfg);
void faults_shutdown(void);
/* How long to hold the next record before classifying it (0: not at all). */
uint64_t fault_hold_ms(uint64_t *rng);
/* Whether a stall file is configured (then the classifier looks at it
 * every FAULT_STALL_CHECK_MS), and whether it exists now. */
bool fault_stall_configured(void);
bool fault_stalled(void);
/* A database batch committed. */
void fault_db_committed(void);
/* A classification is about to be made. */
void fault_classify_audit(int32_t partition, int64_t offset, const char *sync_id);
/* Whether the snapshot's watermark question for this input partition fails. */
bool fault_watermark_fails(int32_t partition);

#else

static inline void faults_init(const config_t *cfg) { (void)cfg; }
static inline void faults_shutdown(void) {}
static inline uint64_t fault_hold_ms(uint64_t *rng) { (void)rng; return 0; }
static inline bool fault_stall_configured(void) { return false; }
static inline bool fault_stalled(void) { return false; }
static inline void fault_db_committed(void) {}
static inline void fault_classify_audit(int32_t partition, int64_t offset, const char *sync_id)
{
    (void)partition;
    (void)offset;
    (void)sync_id;
}
static inline bool fault_watermark_fails(int32_t partition) { (void)partition; return false; }

#endif
#endif
