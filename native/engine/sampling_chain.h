// The llama.cpp sampler chain a generation samples with: the realignment
// sampler first (when there is one), then the request's token constraints
// (logit bias, grammar), then the user's sampling.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/llama_handles.h"
#include "engine/token_constraints.h"

namespace amulet {

struct SamplingParams {
    float temperature = 0.0f;  // 0 selects greedy decoding, the paper's setting
    int32_t top_k = 0;         // 0: off
    float top_p = 1.0f;        // 1: off
    float min_p = 0.0f;        // 0: off
    float repeat_penalty = 1.0f;
    int32_t repeat_last_n = 64;
    float frequency_penalty = 0.0f;
    float presence_penalty = 0.0f;
    uint32_t seed = LLAMA_DEFAULT_SEED;
};

/**
 * True when the chain is exactly greedy (no temperature, no penalties, no
 * constraints): its pick is the argmax of the first link's output, which the
 * decoder computes straight from the logits instead of filling n_vocab
 * candidates.
 */
bool is_plain_greedy(const SamplingParams & params, const TokenConstraints & constraints);

/**
 * True when every link the chain adds runs in llama.cpp's compute graph:
 * greedy, or temperature with top-k/top-p/min-p, and logit biases. Penalties
 * keep the token history on the host, and a grammar matches token texts
 * there, so they stay on the CPU path.
 */
bool backend_samplable(const SamplingParams & params, const TokenConstraints & constraints);

/**
 * Builds the chain: `first` (may be null), the logit biases, `grammar` (may
 * be null; see grammar_sampler()), then the sampling. Takes ownership of
 * `first` and `grammar`.
 */
SamplerHandle build_sampler_chain(llama_sampler * first, const std::vector<llama_logit_bias> & logit_bias,
                                  SamplerHandle grammar, const SamplingParams & params, int32_t n_vocab);

}  // namespace amulet
