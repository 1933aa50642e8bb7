// The realignment as a llama.cpp sampler (llama_sampler_i). It is the first
// link of a sampler chain sampled on a preference sequence's output row: it
// reads the base row and every preference row of the same decode from the
// context, and writes the realigned log-probabilities into the candidates, by
// token id. The user's sampling (greedy, temperature, top-k/p, ...) follows it
// in the chain.
//
// It also has llama.cpp's backend-sampling path: attached to the first
// preference sequence with llama_set_sampler, it adds the combination of the
// rows to the compute graph (vendor/patches/0002 hands it the other
// sequences' rows), on whichever backend holds the logits, and the chain's
// greedy or dist link samples there too. Closed-form methods only (amulet,
// la, pref), with or without the echo guard, without a trace or a KL budget.
#pragma once

#include <cstddef>
#include <cstdint>

#include "llama.h"
#include "sampler/realign_params.h"

namespace amulet {

/** What one realigned token looked like, when tracing is on. */
struct TokenTrace {
    int32_t base_token = -1;
    float base_prob = 0;
    int32_t pref_token = -1;
    float pref_prob = 0;
    int32_t realigned_token = -1;
    float realigned_prob = 0;
    float kl_realigned_base = 0;  // KL(realigned || base), in nats
};

/**
 * Creates the sampler. `params.weights` has one weight per preference row;
 * rows are then given per decode by realign_sampler_set_rows. The returned
 * sampler is owned by the caller (or by the chain it is added to).
 *
 * `shift_invariant_chain`: every link after this one picks the same token
 * from logits shifted by a constant (greedy, temperature, top-k, top-p,
 * min-p, dist; not the penalties, which scale positive and negative logits
 * differently). The sampler then writes sum_k c_k z_k, which differs from the
 * realigned log-probs sum_k c_k (z_k - lse_k) by that constant, and skips the
 * rows' log-sum-exps, a pass with an exp per entry over each row. A trace and
 * the literal loop compute them all the same; realign_sampler_last_log_probs
 * normalises either form.
 * Throws std::invalid_argument on invalid params.
 */
llama_sampler * realign_sampler_init(llama_context * ctx, const RealignParams & params, bool trace,
                                     bool shift_invariant_chain);

/** Output rows of the current decode: rows[0] is the base sequence, rows[1..] the preferences. */
void realign_sampler_set_rows(llama_sampler * smpl, const int32_t * rows, size_t n_rows);

/**
 * The greedy pick of the realigned distribution: the token that sampling a
 * chain of [this sampler, llama_sampler_init_greedy()] returns, computed
 * straight from the output rows, without filling, rewriting and scanning
 * n_vocab llama_token_data candidates. Records the trace and the log-probs
 * like the chain would; without a trace, in one pass over the rows that
 * writes the realigned row only when realign_sampler_last_log_probs asks for
 * it. For a chain with other links (penalties, temperature, ...) use
 * llama_sampler_sample. Throws std::runtime_error if a row is missing or no
 * token is finite in every row.
 */
llama_token realign_sampler_sample_greedy(llama_sampler * smpl);

/**
 * The KV sequence of each row, in the order of realign_sampler_set_rows (base
 * first): the backend path finds the rows in the graph by sequence.
 */
void realign_sampler_set_sequences(llama_sampler * smpl, const llama_seq_id * seqs, size_t n_seqs);

/** True when the sampler can run in the compute graph: a closed-form method, no KL budget and no trace. */
bool realign_sampler_backend_capable(const llama_sampler * smpl);

/**
 * A backend-only chain link that drops the logits, probabilities and
 * candidates of a backend sampler, keeping only its sampled token, so that
 * llama.cpp copies no vocabulary-sized row to the host for it. Last in a
 * backend chain, it leaves the token; alone in the chain of a sequence whose
 * row only the realignment reads (the base), it leaves nothing, where no
 * backend sampler at all would make llama.cpp copy every raw row of the
 * batch. Its CPU apply does nothing.
 */
llama_sampler * token_only_sampler_init();

/** The token llama_sampler_init_greedy() picks from a row of n_vocab logits. */
llama_token greedy_token(const float * row, size_t n_vocab);

/** The trace of the last apply (only filled when created with trace = true). */
const TokenTrace & realign_sampler_last_trace(const llama_sampler * smpl);

/** The guidance scale the last token was realigned with: the method's, or less under a KL budget. */
float realign_sampler_last_scale(const llama_sampler * smpl);

/** The realigned, normalised log-probabilities of the last apply (n_vocab floats). */
const float * realign_sampler_last_log_probs(llama_sampler * smpl);

}  // namespace amulet
