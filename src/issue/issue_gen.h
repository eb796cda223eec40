/*
 * issue_gen.h -- GitHub issue objects (as the REST API returns them) made
 * up from templates of bugs, feature requests and questions, for load
 * generation without data: `dispatchd bench load`. Deterministic for a
 * seed; the body is padded with more of its template's sentences to a
 * requested size.
 */
#ifndef DISPATCHD_ISSUE_GEN_H
#define DISPATCHD_ISSUE_GEN_H

#include <jansson.h>
#include <stdint.h>

/* Issue `number` with GitHub's id `id` (unique across repositories, as
 * the issues table requires); body_bytes 0 keeps the template's own
 * length. *rng is advanced (any non-zero start). */
json_t *issue_gen(uint64_t *rng, long long id, long number, int body_bytes);

/* A body length drawn from the spread of real issues' (NLBSE'24's, cut at
 * 8,000 characters: median ~1,100, a tenth over ~3,700): for benchmarks
 * that must pay for real sizes without the data at hand. */
int issue_gen_body_bytes(uint64_t *rng);

#endif
