// Beam search over one prompt (the paper's "BS16" baseline: beam search on
// the preference prompt). The N beams are N sequences of one llama_context;
// every step appends each live beam's last token in ONE llama_decode, and a
// beam that survives with another parent takes over that parent's KV cells
// with llama_memory_seq_cp. The context uses a unified KV cache, so a copy
// only tags the parent's cells with another sequence id: the shared prefix
// (the prompt, common answer beginnings) is stored once.
//
// Scoring: a hypothesis's score is its summed token log-probability divided
// by length^length_penalty (the convention of Hugging Face's beam search,
// which the paper's reference code uses: length_penalty 1 averages per
// token, 0 ranks by the raw sum, which favours short answers).
//
// Not thread-safe: one thread runs a search.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/chat_prompt.h"
#include "engine/llama_handles.h"
#include "engine/loaded_model.h"

namespace amulet {

struct BeamSearchRequest {
    std::string system_prompt;
    std::vector<std::string> preference_texts;  // joined to the system prompt as for the `pref` method
    std::vector<ChatMessage> turns;    // the conversation after the system prompt, ending with the user's message
    int32_t beams = 16;
    int32_t max_tokens = 128;
    double length_penalty = 1.0;
    int32_t threads = 0;               // 0: one per hardware thread
    int32_t batch_size = 512;
};

struct BeamSearchResult {
    std::string text;
    std::vector<llama_token> tokens;
    double sum_log_prob = 0;  // of the chosen hypothesis, natural log
    double score = 0;         // sum_log_prob / length^length_penalty
    bool stopped = false;     // ended with an end-of-generation token (else max_tokens)
    int32_t prompt_tokens = 0;
    int32_t decoded_tokens = 0;  // generated tokens decoded, summed over beams
    double prompt_ms = 0;
    double generation_ms = 0;
};

class BeamSearch {
  public:
    BeamSearch(std::shared_ptr<LoadedModel> model, BeamSearchRequest request);
    BeamSearch(const BeamSearch &) = delete;
    BeamSearch & operator=(const BeamSearch &) = delete;

    /**
     * Runs the search to its end. `abort` is polled between steps and during
     * prompt evaluation. Throws EngineError (ERR_CONTEXT_CREATE, ERR_DECODE,
     * ERR_ABORTED, ERR_TEMPLATE, ERR_INVALID_OPTION).
     */
    BeamSearchResult run(const std::atomic<bool> * abort);

  private:
    struct Hypothesis {
        std::vector<llama_token> tokens;
        double sum_log_prob = 0;
        llama_seq_id seq = -1;  // KV sequence holding prompt + tokens (minus the last token, not yet decoded)
    };

    double score_of(const Hypothesis & hypothesis) const;
    void create_context(int32_t prompt_tokens);
    void evaluate_prompt(const std::vector<llama_token> & prompt);
    void decode(const char * stage);
    bool aborted() const { return abort_ != nullptr && abort_->load(std::memory_order_relaxed); }

    std::shared_ptr<LoadedModel> model_;
    BeamSearchRequest request_;
    ContextHandle ctx_;
    std::unique_ptr<BatchHandle> batch_;
    const std::atomic<bool> * abort_ = nullptr;
    std::vector<llama_token> order_;  // scratch: token ids of one row, partially sorted every step
};

}  // namespace amulet
