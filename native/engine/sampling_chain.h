// The llama.cpp sampler chain a generation samples with: the realignment
// sampler first (when there is one), then the user's sampling.
#pragma once

#include <cstdint>

#include "engine/llama_handles.h"

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
 * True when the chain for `params` is exactly greedy (no temperature, no
 * penalties): its pick is the argmax of the first link's output, which the
 * decoder computes straight from the logits instead of filling n_vocab
 * candidates.
 */
bool is_plain_greedy(const SamplingParams & params);

/**
 * True when every link the chain adds for `params` picks the same token from
 * logits shifted by a constant: all but the penalties, which divide positive
 * and multiply negative logits.
 */
bool is_shift_invariant(const SamplingParams & params);

/**
 * True when every link the chain adds for `params` runs in llama.cpp's
 * compute graph: greedy, or temperature with top-k/top-p/min-p. Penalties
 * keep the token history on the host, so they stay on the CPU path.
 */
bool backend_samplable(const SamplingParams & params);

/** Builds the chain; takes ownership of `first` (may be null). */
SamplerHandle build_sampler_chain(llama_sampler * first, const SamplingParams & params, int32_t n_vocab);

}  // namespace amulet
